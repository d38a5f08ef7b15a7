use xcore::prelude::*;

struct Shop;

#[plugin(name = "shop", name = "store")]
impl Shop {}

fn main() {}
