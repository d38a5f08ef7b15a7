//! The seed tutorial ("Utiliser les services existants") as one app.
//!
//! Run it with `cargo run --example seed_tour`; it serves on 127.0.0.1:8000
//! (`XCORE_BIND` to change), stores into `xcore.db` (`DATABASE_URL` to use
//! PostgreSQL) and caches in memory (`REDIS_URL` to use Redis).

pub mod catalogue;
pub mod codes;
pub mod hello;
pub mod items;
pub mod profil;
pub mod tableau_de_bord;

use std::sync::LazyLock;

use regex::Regex;
use xcore::App;
use xcore::config::Config;

/// A name must hold at least one character that is not a space: a custom
/// rule, declared as a pattern so that the API document shows it too
/// (`#[validate(regex(path = *NOT_BLANK))]`).
pub static NOT_BLANK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\S").expect("a valid pattern"));

/// The app with every seed plugin registered.
pub fn app(config: Config) -> xcore::Result<App> {
    Ok(App::new(config)?
        .plugin(hello::Hello)
        .plugin(profil::Profil)
        .plugin(items::Items)
        .plugin(catalogue::Catalogue)
        .plugin(tableau_de_bord::TableauDeBord)
        .plugin(codes::Codes))
}
