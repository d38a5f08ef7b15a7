use xcore::prelude::*;

struct Shop;

#[plugin]
impl Shop {
    #[route(get, "/items")]
    fn list() -> &'static str {
        "[]"
    }
}

fn main() {}
