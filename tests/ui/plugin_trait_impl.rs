use xcore::prelude::*;

struct Shop;

#[plugin]
impl Clone for Shop {
    fn clone(&self) -> Self {
        Shop
    }
}

fn main() {}
