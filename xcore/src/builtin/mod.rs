//! The plugins every app gets unless configuration turns them off: `/auth`
//! (accounts, sessions, second factor) and `/admin` (roles and
//! permissions). They are ordinary plugins over the accounts services;
//! nothing below them knows they exist.

mod admin;
mod auth;
mod no_store;

pub use admin::Admin;
pub use auth::Auth;
