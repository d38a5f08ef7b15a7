use xcore::prelude::*;

struct Shop;

#[plugin]
impl Shop {
    #[route(get, "/items")]
    async fn list() {}

    #[route(get, "/items")]
    async fn list_again() {}

    #[route(get, "/items/{id}")]
    async fn show() {}

    #[route(delete, "/items/{item_id}")]
    async fn remove() {}
}

fn main() {}
