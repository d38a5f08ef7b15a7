//! Security primitives: password hashing (argon2id) and access tokens (JWT).
//!
//! The algorithm is fixed by configuration and never read from a token's
//! header, so `alg: none` or an algorithm swap is rejected like any forgery.
//!
//! ```
//! use std::time::Duration;
//! use xcore::security::{Claims, JwtKeys, create_token, decode_token};
//!
//! let keys = JwtKeys::hs256(b"an example secret of at least 32 bytes!").unwrap();
//! let claims = Claims::new("42", Duration::from_secs(900)).with_roles(["admin"]);
//! let token = create_token(&keys, &claims).unwrap();
//! assert_eq!(decode_token(&keys, &token).unwrap().roles, ["admin"]);
//! ```

mod dev_secret;
mod encoding;
mod keys;
mod password;
mod secret;
mod token;
mod totp;
mod verified;

pub(crate) use dev_secret::load_or_create as load_or_create_dev_secret;
pub(crate) use encoding::{hex, random_token, sha256_hex, unhex};
pub(crate) use keys::DerivedKeys;
pub(crate) use password::default_concurrency;
pub use password::{
    HashPool, PasswordParams, hash_password, hash_password_with, needs_rehash, verify_password,
};
pub use secret::Secret;
pub use token::{Claims, JwtAlgorithm, JwtKeys, create_token, decode_token};
pub use totp::{totp, totp_code};
pub(crate) use verified::VerifiedTokens;
