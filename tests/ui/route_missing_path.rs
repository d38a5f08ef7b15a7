use xcore::prelude::*;

struct Shop;

#[plugin]
impl Shop {
    #[route(get)]
    async fn a() {}

    #[route]
    async fn b() {}

    #[route("/c", get)]
    async fn c() {}
}

fn main() {}
