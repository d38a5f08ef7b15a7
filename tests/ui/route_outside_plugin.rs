use xcore::prelude::*;

struct Shop;

impl Shop {
    #[route(get, "/items")]
    async fn list() {}
}

fn main() {}
