//! Black-box tests of xcore: HTTP tests in `tests/`, compile-fail UI tests in
//! `ui/`, and the guide's code, compiled and run as doctests.
//!
//! The guide (`book/src`) is included below, one module per chapter, so
//! `cargo test -p xcore-tests --doc` compiles every `rust` block of the book
//! and runs every one not marked `no_run`. A block that stops compiling or
//! whose assertions fail breaks the build, which keeps the guide true to the
//! API.

/// Chapter "Introduction" of the guide.
#[doc = include_str!("../../book/src/introduction.md")]
pub mod introduction {}

/// Chapter "Quick start" of the guide.
#[doc = include_str!("../../book/src/quick-start.md")]
pub mod quick_start {}

/// Chapter "Plugins and routes" of the guide.
#[doc = include_str!("../../book/src/plugins-and-routes.md")]
pub mod plugins_and_routes {}

/// Chapter "Plugins: configuration, switch, dependencies, hooks" of the guide.
#[doc = include_str!("../../book/src/plugins.md")]
pub mod plugins {}

/// Chapter "Validation" of the guide.
#[doc = include_str!("../../book/src/validation.md")]
pub mod validation {}

/// Chapter "Guards" of the guide.
#[doc = include_str!("../../book/src/guards.md")]
pub mod guards {}

/// Chapter "Database" of the guide.
#[doc = include_str!("../../book/src/database.md")]
pub mod database {}

/// Chapter "Cache" of the guide.
#[doc = include_str!("../../book/src/cache.md")]
pub mod cache {}

/// Chapter "Rate limits" of the guide.
#[doc = include_str!("../../book/src/rate-limits.md")]
pub mod rate_limits {}

/// Chapter "Authentication" of the guide.
#[doc = include_str!("../../book/src/authentication.md")]
pub mod authentication {}

/// Chapter "Security" of the guide.
#[doc = include_str!("../../book/src/security.md")]
pub mod security {}

/// Chapter "Admin: roles and permissions" of the guide.
#[doc = include_str!("../../book/src/admin.md")]
pub mod admin {}

/// Chapter "One-time codes and two-factor" of the guide.
#[doc = include_str!("../../book/src/otp.md")]
pub mod otp {}

/// Chapter "API documentation" of the guide.
#[doc = include_str!("../../book/src/api-docs.md")]
pub mod api_docs {}

/// Chapter "Running in production" of the guide.
#[doc = include_str!("../../book/src/production.md")]
pub mod production {}

/// Chapter "From FastAPI" of the guide.
#[doc = include_str!("../../book/src/from-fastapi.md")]
pub mod from_fastapi {}

/// Chapter "Errors" of the guide.
#[doc = include_str!("../../book/src/errors.md")]
pub mod errors {}

/// Chapter "Testing" of the guide.
#[doc = include_str!("../../book/src/testing.md")]
pub mod testing {}

/// Chapter "Configuration" of the guide.
#[doc = include_str!("../../book/src/configuration.md")]
pub mod configuration {}
