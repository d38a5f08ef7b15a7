use xcore::prelude::*;

struct Shop;

#[plugin]
impl Shop {
    #[cached(ttl = 60)]
    async fn helper() {}
}

fn main() {}
