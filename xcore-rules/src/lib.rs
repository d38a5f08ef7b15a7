//! The rules of xcore's route table, written once.
//!
//! `#[plugin]`, `#[route]` and `#[cached]` check their arguments with these
//! functions at compile time; the runtime checks a plugin written by hand
//! with the very same functions when the app is assembled. So a rule can
//! never be checked two ways, and a hand-written plugin is refused for
//! exactly what the attributes would refuse (Rocket's codegen shares its
//! URI parser with the runtime through its `http` crate in the same way).
//!
//! Each check returns [`Invalid`], a sentence saying what is wrong and how to
//! write it instead; the caller adds where (a span, a plugin name).
//!
//! ```
//! use xcore_rules::{cache, name, path};
//!
//! assert!(path::route("/items/{id}").is_ok());
//! assert!(path::route("/items/:id").unwrap_err().to_string().contains("{id}"));
//! assert!(path::prefix("/shop?x").is_err());
//! assert!(name::role("editor").is_ok());
//! assert!(name::role("Editor").is_err());
//! assert!(cache::KeyTemplate::parse("stats:{user}").is_ok());
//! ```

pub mod cache;
pub mod name;
pub mod path;
pub mod rate_limit;
pub mod status;

use std::fmt;

/// Why a path, prefix, name or template breaks a rule: one sentence, with
/// the way to write it instead where there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(String);

impl Invalid {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Invalid(message.into())
    }

    /// The sentence.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Invalid {}
