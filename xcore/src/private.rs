//! Paths used by the code `#[plugin]` generates. Not a public API: anything
//! here may change in any release.

pub use std::sync::Arc;

pub use axum::extract::{FromRequest, FromRequestParts};
pub use axum::http::StatusCode;
pub use axum::response::IntoResponse;

pub use crate::cache::CachePolicy;
pub use crate::db::Migration;
pub use crate::openapi::{DescribeInput, DescribeOutput, Operation, Probe, SkipInput, SkipOutput};
pub use crate::plugin::{
    ConfigSpec, FromPluginContext, Hook, HookOutput, Method, Plugin, PluginContext, PluginMeta,
    RouteInfo, Routes,
};
pub use crate::rate_limit::RateLimit;
pub use crate::validation::{CheckArg, JsonArg, SkipCheck, ValidationProbe, refused, rejected};
pub use crate::web::AppState;
pub use crate::web::guard::Guard;
pub use axum::response::Response;
pub use core::result::Result;

/// Compile-time check that a handler argument other than the last is an
/// extractor that does not consume the body. Generated with the span of
/// the user's argument, so the error points at it.
pub const fn assert_from_request_parts<T: FromRequestParts<AppState>>() {}

/// Compile-time check that a handler's last argument is an extractor.
pub const fn assert_from_request<T: FromRequest<AppState, M>, M>() {}

/// Compile-time check that a handler's return type is a response.
pub const fn assert_into_response<T: IntoResponse>() {}

/// The success status `#[route(..., status = N)]` declared (checked to be
/// 200–299 at compile time, and again when the app is assembled).
pub fn success_status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::OK)
}
