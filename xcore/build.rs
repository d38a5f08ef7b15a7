//! Rebuild when a migration file is added: the built-in plugins embed the
//! `migrations/` folder at compile time.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
