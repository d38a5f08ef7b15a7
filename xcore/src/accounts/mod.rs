//! User accounts, sessions and authorisation state, stored in the database
//! by the framework's own migrations (`xcore_*` tables) and served by the
//! built-in `/auth` and `/admin` plugins.
//!
//! Tokens issued at login carry a session id and the user's authorisation
//! version. Every change that must take effect at once (logout, role or
//! permission change, password change) bumps that version in the database
//! and in the shared cache; a guard compares the token's version with the
//! cached one and consults the database only when they differ. With Redis
//! the cache is shared, so every instance sees the change on the next
//! request; when the cache cannot be read, guarded requests fail closed (503).

mod admin;
mod auth;
mod resolve;
mod store;
mod totp;

pub use admin::Admin;
pub use auth::Auth;
pub(crate) use resolve::resolve;
pub use store::{Accounts, LoginOutcome, TokenPair, User};
pub use totp::{MfaChallenge, TotpSetup};
