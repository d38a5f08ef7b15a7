//! `GET /hello/`: a public route.

use schemars::JsonSchema;
use serde::Serialize;
use xcore::prelude::*;

/// The smallest plugin: one public route.
pub struct Hello;

/// Body of `GET /hello/`.
#[derive(Serialize, JsonSchema)]
pub struct Greeting {
    /// The greeting.
    pub message: &'static str,
}

#[plugin(name = "hello", version = "1.0.0", prefix = "/hello", tags = ["hello"])]
impl Hello {
    /// Says hello to anyone.
    #[route(get, "/")]
    async fn hello() -> Json<Greeting> {
        Json(Greeting {
            message: "Bonjour depuis xcore !",
        })
    }
}
