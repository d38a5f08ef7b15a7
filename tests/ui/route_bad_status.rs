use xcore::prelude::*;

struct Items;

#[plugin]
impl Items {
    // An error status is not a success status.
    #[route(post, "/a", status = 404)]
    async fn a() {}

    // A number, not a string.
    #[route(post, "/b", status = "201")]
    async fn b() {}

    #[route(post, "/c", status)]
    async fn c() {}

    #[route(post, "/d", status = 201, status = 202)]
    async fn d() {}

    #[route(post, "/e", status_code = 201)]
    async fn e() {}
}

fn main() {}
