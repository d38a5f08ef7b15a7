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

/// How long a change made through one instance may take to reach another
/// instance's in-process tier: 10 ms, measured by the timing tests run
/// alone (`near_cache`, ignored in the suite).
pub const PROPAGATION: std::time::Duration = std::time::Duration::from_millis(10);

/// The same bound in the suite, where a hundred tests share two cores and
/// nothing is prompt: correctness, not timing.
pub const PROPAGATION_UNDER_LOAD: std::time::Duration = std::time::Duration::from_secs(1);

/// The status `request` answers once `wanted`, asked again until it is
/// or a request started [`PROPAGATION_UNDER_LOAD`] or more after the call still is
/// not (that one's status then). What a request started earlier answers
/// does not count: it may have read the state before the change arrived.
pub async fn status_within<F, Fut>(wanted: u16, mut request: F) -> u16
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = xcore::testing::TestResponse>,
{
    let start = std::time::Instant::now();
    loop {
        let asked = start.elapsed();
        let status = request().await.status().as_u16();
        if status == wanted || asked >= PROPAGATION_UNDER_LOAD {
            return status;
        }
        tokio::task::yield_now().await;
    }
}

pub mod process;
pub mod services;
pub mod smtp;

pub use xcore::testing::Mailbox;
