use xcore::prelude::*;

struct Shop;

#[plugin(name = "shop", config = "ShopConfig")]
impl Shop {}

fn main() {}
