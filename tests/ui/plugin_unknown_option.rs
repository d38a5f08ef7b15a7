use xcore::prelude::*;

struct Shop;

#[plugin(name = "shop", path = "/shop", colour = "blue")]
impl Shop {}

fn main() {}
