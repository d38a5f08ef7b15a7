//! Guarding routes: who is calling ([`CurrentUser`], from the bearer token
//! and the accounts' current state) and whether they may ([`Guard`]).
//!
//! A route declared with `auth`, `auth = "role"` or `permission = "name"` is
//! wrapped in a [`GuardLayer`]: without a valid bearer token it answers 401
//! (with `WWW-Authenticate: Bearer`), with a valid token lacking the role or
//! permission 403, and otherwise runs the handler with the verified user in
//! the request, where [`CurrentUser`] finds it without decoding again.

mod current_user;
mod layer;
mod requirement;

pub(crate) use current_user::carries_credentials;
pub use current_user::{CurrentUser, bearer_token};
pub use layer::{GuardLayer, GuardService};
pub use requirement::Guard;
