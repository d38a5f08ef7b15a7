use xcore::prelude::*;

struct Shop;

#[plugin]
impl Shop {
    #[route(get, "/a")]
    #[route(get, "/b")]
    async fn a() {}
}

fn main() {}
