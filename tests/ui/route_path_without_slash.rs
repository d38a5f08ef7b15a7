use xcore::prelude::*;

struct Shop;

#[plugin]
impl Shop {
    #[route(get, "items")]
    async fn items() {}
}

fn main() {}
