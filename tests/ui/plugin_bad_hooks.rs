use xcore::prelude::*;

struct Shop;

#[plugin(name = "shop")]
impl Shop {
    #[on_start]
    fn not_async() {}

    #[on_stop]
    async fn takes_mut(&mut self) {}

    #[on_stop(timeout = 3)]
    async fn with_arguments() {}
}

struct Blog;

#[plugin(name = "blog")]
impl Blog {
    #[on_start]
    async fn reads_a_header(header: String) -> u32 {
        header.len() as u32
    }
}

fn main() {}
