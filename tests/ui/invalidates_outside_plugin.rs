use xcore::prelude::*;

#[invalidates("produits")]
async fn helper() {}

fn main() {}
