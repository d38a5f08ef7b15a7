use xcore::prelude::*;

struct Shop;

#[plugin(name = "my shop")]
impl Shop {}

fn main() {}
