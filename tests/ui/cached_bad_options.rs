use xcore::prelude::*;

struct Shop;

#[plugin]
impl Shop {
    #[route(get, "/a")]
    #[cached]
    async fn a() {}

    #[route(get, "/b")]
    #[cached(ttl = 0)]
    async fn b() {}

    #[route(get, "/c")]
    #[cached(ttl = "5m")]
    async fn c() {}

    #[route(get, "/d")]
    #[cached(ttl = 5, ttl = 6)]
    async fn d() {}

    #[route(get, "/e")]
    #[cached(ttl = 5, expire = 6)]
    async fn e() {}
}

fn main() {}
