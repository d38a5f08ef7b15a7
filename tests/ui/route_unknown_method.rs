use xcore::prelude::*;

struct Shop;

#[plugin]
impl Shop {
    #[route(fetch, "/a")]
    async fn a() {}

    #[route(GET, "/b")]
    async fn b() {}
}

fn main() {}
