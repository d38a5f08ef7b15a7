//! `#[route(METHOD, "/path", options...)]`: one route of a plugin.
//!
//! The attribute is read by `#[plugin]` (which sees the whole impl block); on
//! its own it only reports that it is misplaced.

pub(crate) mod model;
pub(crate) mod parse;

pub(crate) use model::Route;
