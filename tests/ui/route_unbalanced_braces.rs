use xcore::prelude::*;

struct Shop;

#[plugin]
impl Shop {
    #[route(get, "/items/{id")]
    async fn item() {}
}

fn main() {}
