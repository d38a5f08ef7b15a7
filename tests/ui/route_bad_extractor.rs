use xcore::prelude::*;

struct Shop;

struct NotAnExtractor;

#[plugin]
impl Shop {
    #[route(get, "/a")]
    async fn a(value: NotAnExtractor, user: CurrentUser) -> String {
        let _ = value;
        user.id().to_owned()
    }

    #[route(post, "/b")]
    async fn b(Json(body): Json<String>, user: CurrentUser) -> String {
        body + user.id()
    }
}

fn main() {}
