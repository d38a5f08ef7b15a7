use xcore::prelude::*;

struct Shop;

#[plugin(migrations = "migrations/does-not-exist")]
impl Shop {}

fn main() {}
