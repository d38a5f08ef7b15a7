use xcore::prelude::*;

struct Shop;

struct NotAResponse;

#[plugin]
impl Shop {
    #[route(get, "/a")]
    async fn a() -> NotAResponse {
        NotAResponse
    }
}

fn main() {}
