use xcore::prelude::*;

/// Not deserializable: it cannot be read from `[plugins.shop]`.
struct ShopConfig {
    page_size: u32,
}

struct Shop;

#[plugin(name = "shop", config = ShopConfig)]
impl Shop {}

fn main() {
    let _ = ShopConfig { page_size: 1 }.page_size;
}
