use xcore::prelude::*;

#[cached(ttl = 60)]
async fn helper() {}

fn main() {}
