use xcore::prelude::*;

struct Shop;

#[plugin]
impl Shop {
    #[route(get, "/a", auth = "admin", auth)]
    async fn a() {}
}

fn main() {}
