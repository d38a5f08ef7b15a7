use xcore::prelude::*;

struct Shop;

#[plugin]
impl Shop {
    #[route(post, "/a")]
    #[rate_limit(per = "minute")]
    async fn a() {}

    #[route(post, "/b")]
    #[rate_limit(3, per = "minute", window = 60)]
    async fn b() {}

    #[route(post, "/c")]
    #[rate_limit(3, per = "minute", key = browser)]
    async fn c() {}

    #[route(post, "/d")]
    #[rate_limit(3, per = "minute", fail = "sometimes")]
    async fn d() {}

    #[rate_limit(3, per = "minute")]
    async fn not_a_route() {}
}

fn main() {}
