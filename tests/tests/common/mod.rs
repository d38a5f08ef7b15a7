//! Shared fixtures of the black-box tests.

#![allow(dead_code)]

use xcore::config::Config;
use xcore::testing::TestClient;
use xcore::{App, Plugin};

/// The secret every test app signs with, so tests can forge tokens with
/// other keys and compare.
pub const SECRET: &str = "black-box test secret, 32+ bytes long";

/// A fresh in-memory database per call, so tests run in parallel.
pub fn config() -> Config {
    xcore::testing::config().with_app_secret(SECRET)
}

pub async fn client(plugin: impl Plugin) -> TestClient {
    TestClient::new(App::new(config()).expect("app").plugin(plugin))
        .await
        .expect("router")
}

/// Asserts the JSON error envelope and returns its code.
pub fn error_code(response: &xcore::testing::TestResponse) -> String {
    let body: serde_json::Value = response.json();
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "error without message: {body}");
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error body: {body}"))
        .to_owned()
}

pub mod process;
pub mod services;
pub mod smtp;

pub use xcore::testing::Mailbox;
