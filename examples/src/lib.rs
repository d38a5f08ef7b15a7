//! Example applications of xcore.
//!
//! Each example's plugins live here as a library so the tests can drive them
//! in-process; `examples/<name>/main.rs` only runs them.

pub mod seed_tour;
