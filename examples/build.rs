//! Rebuild when a migration file is added: the `#[plugin(migrations = ...)]`
//! attribute embeds the folder's files at compile time.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
