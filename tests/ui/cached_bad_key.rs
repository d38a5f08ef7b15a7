use xcore::prelude::*;

struct Shop;

#[plugin]
impl Shop {
    #[route(get, "/produits/{id}")]
    #[cached(ttl = 60, key = "produit:{item_id}")]
    async fn one() {}

    #[route(get, "/produits")]
    #[cached(ttl = 60, key = "produits:{user}")]
    async fn all() {}

    #[route(get, "/tous")]
    #[cached(ttl = 60, key = "produits:{")]
    async fn broken() {}

    #[route(get, "/partages")]
    #[cached(ttl = 60, shared)]
    async fn shared_public() {}
}

fn main() {}
