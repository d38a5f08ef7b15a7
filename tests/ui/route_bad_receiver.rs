use xcore::prelude::*;

struct Shop;

#[plugin]
impl Shop {
    #[route(get, "/a")]
    async fn a(&mut self) {}

    #[route(get, "/b")]
    async fn b(self) {}

    #[route(get, "/c")]
    async fn c<T>() {}
}

fn main() {}
