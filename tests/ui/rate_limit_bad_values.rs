use xcore::prelude::*;

struct Shop;

#[plugin]
impl Shop {
    #[route(post, "/a")]
    #[rate_limit(0, per = "minute")]
    async fn a() {}

    #[route(post, "/b")]
    #[rate_limit(3, per = "fortnight")]
    async fn b() {}

    #[route(post, "/c")]
    #[rate_limit(3, per = "minutes")]
    async fn c() {}

    #[route(post, "/d")]
    #[rate_limit(3, per = "minute", key = user)]
    async fn d() {}

    #[route(post, "/e/{id}")]
    #[rate_limit(3, per = "minute", key = "{item}")]
    async fn e() {}

    #[route(post, "/f", auth)]
    #[rate_limit(3, per = "minute", key = user)]
    #[rate_limit(10, per = "minute", key = user)]
    async fn f() {}
}

fn main() {}
