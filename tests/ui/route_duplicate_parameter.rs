use xcore::prelude::*;

struct Shop;

#[plugin]
impl Shop {
    #[route(get, "/{id}/children/{id}")]
    async fn child() {}
}

fn main() {}
