//! Everything a plugin usually needs: `use xcore::prelude::*;`.
//!
//! ```
//! use xcore::prelude::*;
//!
//! pub struct Hello;
//!
//! #[plugin]
//! impl Hello {
//!     #[route(get, "/")]
//!     async fn hello() -> Json<serde_json::Value> {
//!         Json(serde_json::json!({"message": "hello"}))
//!     }
//! }
//! # use serde_json;
//! ```

pub use crate::app::App;
pub use crate::cache::Cache;
pub use crate::db::Db;
pub use crate::error::{Error, Result};
pub use crate::otp::Otp;
pub use crate::plugin::{Plugin, PluginConfig};
pub use crate::validation::Valid;
pub use crate::web::AppState;
pub use crate::web::guard::{CurrentUser, Guard};
pub use axum::Json;
pub use axum::extract::{Path, Query, State};
pub use axum::http::StatusCode;
pub use axum::response::IntoResponse;
pub use xcore_macros::{cached, invalidates, on_start, on_stop, plugin, rate_limit, route};
