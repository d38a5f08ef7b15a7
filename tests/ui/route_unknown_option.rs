use xcore::prelude::*;

struct Shop;

#[plugin]
impl Shop {
    #[route(get, "/a", role = "admin")]
    async fn a() {}

    #[route(get, "/b", timeout = 5)]
    async fn b() {}
}

fn main() {}
