//! # xcore
//!
//! Build web back ends out of plugins. A plugin is an ordinary Rust type whose
//! handlers are declared with attributes; the attributes expand into plain
//! axum routers wired to xcore's services.
//!
//! ```
//! use xcore::prelude::*;
//! use xcore::testing::TestClient;
//!
//! pub struct Items;
//!
//! #[plugin(name = "items", version = "1.0.0", prefix = "/items")]
//! impl Items {
//!     /// Anyone may look.
//!     #[route(get, "/{id}")]
//!     async fn show(Path(id): Path<u64>) -> String {
//!         format!("item {id}")
//!     }
//!
//!     /// Only admins may delete.
//!     #[route(delete, "/{id}", auth = "admin")]
//!     async fn remove(Path(id): Path<u64>, user: CurrentUser) -> StatusCode {
//!         StatusCode::NO_CONTENT
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> xcore::Result<()> {
//! let client = TestClient::new(App::new(xcore::testing::config())?.plugin(Items)).await?;
//! assert_eq!(client.get("/items/3").send().await.text(), "item 3");
//! let user = client.token("7", &["reader"])?;
//! assert_eq!(client.delete("/items/3").bearer(&user).send().await.status(), 403);
//! # Ok(())
//! # }
//! ```
//!
//! The guide (the `book/` folder of the repository) teaches each service.

// The built-in plugins use the crate's own macros, whose expansions name
// `::xcore`.
extern crate self as xcore;

pub mod accounts;
mod app;
mod builtin;
pub mod cache;
mod clock;
pub mod config;
pub mod db;
mod error;
pub mod mail;
mod metrics;
mod middleware;
pub mod openapi;
pub mod otp;
mod plugin;
pub mod prelude;
pub mod rate_limit;
pub mod security;
pub mod testing;
pub mod validation;
mod web;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use app::App;
pub use error::{AuthFailure, Error, Result};
pub use plugin::{
    ConfigSpec, FromPluginContext, Hook, HookOutput, Method, MountedRoute, Plugin, PluginConfig,
    PluginConfigType, PluginContext, PluginMeta, RouteInfo, Routes,
};
pub use web::AppState;
pub use web::guard;
pub use web::guard::{CurrentUser, Guard};
pub use xcore_macros::{cached, invalidates, on_start, on_stop, plugin, rate_limit, route};

/// Who is on the other end of the connection: the client's address
/// ([`ClientAddr`](client::ClientAddr)), from the socket, or from
/// `Forwarded` / `X-Forwarded-For` only when the socket's peer is a proxy
/// `http.trusted_proxies` lists.
pub mod client {
    pub use crate::config::{IpRange, TrustedProxies};
    pub use crate::web::ClientAddr;
}

/// HTTP types (status codes, headers), re-exported from `http` via axum.
pub mod http {
    pub use axum::http::*;
}

/// The axum version xcore is built on, for users who need more of it.
pub use axum;
/// The schemars version behind the API document's schemas. Deriving
/// `JsonSchema` needs `schemars` in your own `Cargo.toml` (same major
/// version), or `#[schemars(crate = "xcore::schemars")]` on the type.
pub use schemars;
/// The sqlx version behind [`db::Db`], so plugins query without adding it.
pub use sqlx;
