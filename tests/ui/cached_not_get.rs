use xcore::prelude::*;

struct Shop;

#[plugin]
impl Shop {
    #[route(post, "/produits", auth = "admin")]
    #[cached(ttl = 300)]
    async fn create() {}
}

fn main() {}
