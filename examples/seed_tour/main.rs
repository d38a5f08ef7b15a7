//! The seed tutorial as one runnable app: `cargo run --example seed_tour`.
//!
//! Accounts come from the built-in `/auth` endpoints (register, login); set
//! `XCORE_ADMIN_EMAIL` and `XCORE_ADMIN_PASSWORD` to have a first
//! administrator created at start-up.

use xcore::config::Config;
use xcore_examples::seed_tour;

#[tokio::main]
async fn main() -> xcore::Result<()> {
    seed_tour::app(Config::load()?)?.run().await
}
