use xcore::prelude::*;

struct Shop;

#[plugin]
impl Shop {
    #[route(get, "/a", auth = "")]
    async fn a() {}

    #[route(get, "/b", auth = [])]
    async fn b() {}

    #[route(get, "/c", permission)]
    async fn c() {}

    #[route(get, "/d", auth = admin)]
    async fn d() {}
}

fn main() {}
