//! `migrations = "folder"`: the plugin's SQL files, found at compile time and
//! embedded with `include_str!`.
//!
//! Files are `NNNN_name.sql` (both databases) with optional
//! `NNNN_name.sqlite.sql` / `NNNN_name.postgres.sql` variants. Like sqlx's
//! `migrate!`, a new file is seen at the next build of the crate: a
//! `build.rs` with `cargo:rerun-if-changed=migrations` makes that automatic.

use std::collections::BTreeMap;
use std::path::PathBuf;

use proc_macro2::TokenStream;
use quote::quote;
use syn::LitStr;

use crate::diagnostics::Errors;

/// One version: its files by dialect.
#[derive(Default)]
pub(crate) struct MigrationFiles {
    name: String,
    file: String,
    generic: Option<PathBuf>,
    sqlite: Option<PathBuf>,
    postgres: Option<PathBuf>,
}

pub(crate) fn collect(folder: &LitStr, errors: &mut Errors) -> Vec<(i64, MigrationFiles)> {
    let Some(root) = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from) else {
        errors.error(
            folder.span(),
            "CARGO_MANIFEST_DIR is not set: build with cargo",
        );
        return Vec::new();
    };
    let dir = root.join(folder.value());
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) => {
            errors.error(
                folder.span(),
                format!(
                    "cannot read the migrations folder \"{}\" ({err}); the path is relative to the crate's Cargo.toml",
                    folder.value()
                ),
            );
            return Vec::new();
        }
    };
    let mut versions: BTreeMap<i64, MigrationFiles> = BTreeMap::new();
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    names.sort();
    for file in names {
        let stem = &file[..file.len() - 4];
        let (stem, dialect) = match stem.rsplit_once('.') {
            Some((base, d @ ("sqlite" | "postgres"))) => (base, Some(d)),
            Some(_) => {
                errors.error(
                    folder.span(),
                    format!("migration file `{file}`: the only dialect suffixes are `.sqlite.sql` and `.postgres.sql`"),
                );
                continue;
            }
            None => (stem, None),
        };
        let parsed = stem
            .split_once('_')
            .and_then(|(version, name)| Some((version.parse::<i64>().ok()?, name)))
            .filter(|(_, name)| !name.is_empty());
        let Some((version, name)) = parsed else {
            errors.error(
                folder.span(),
                format!("migration file `{file}` must be named `NNNN_name.sql`, e.g. `0001_create_items.sql`"),
            );
            continue;
        };
        let entry = versions.entry(version).or_default();
        if !entry.name.is_empty() && entry.name != name {
            errors.error(
                folder.span(),
                format!(
                    "migrations `{}` and `{file}` share the version {version}",
                    entry.file
                ),
            );
            continue;
        }
        if entry.name.is_empty() {
            entry.name = name.to_owned();
            entry.file = format!("{stem}.sql");
        }
        let path = dir.join(&file);
        match dialect {
            None => entry.generic = Some(path),
            Some("sqlite") => entry.sqlite = Some(path),
            Some(_) => entry.postgres = Some(path),
        }
    }
    for (version, files) in &versions {
        if files.generic.is_none() && (files.sqlite.is_none() || files.postgres.is_none()) {
            errors.error(
                folder.span(),
                format!(
                    "migration {version} (`{}`) runs on one database only: add `{}` or the missing dialect variant",
                    files.name, files.file
                ),
            );
        }
    }
    versions.into_iter().collect()
}

pub(crate) fn expand(migrations: &[(i64, MigrationFiles)]) -> TokenStream {
    let items = migrations.iter().map(|(version, files)| {
        let include = |path: &Option<PathBuf>| {
            path.as_ref().map(|p| {
                let p = p.to_string_lossy().into_owned();
                quote!(::core::include_str!(#p))
            })
        };
        let name = &files.name;
        let file = &files.file;
        let generic = include(&files.generic).map(|s| quote!(.sql(#s)));
        let sqlite = include(&files.sqlite).map(|s| quote!(.sqlite(#s)));
        let postgres = include(&files.postgres).map(|s| quote!(.postgres(#s)));
        let migration = crate::runtime::migration();
        quote!(#migration::new(#version, #name, #file) #generic #sqlite #postgres)
    });
    let migration = crate::runtime::migration();
    quote! {
        fn migrations(&self) -> &'static [#migration] {
            const MIGRATIONS: &[#migration] = &[#(#items),*];
            MIGRATIONS
        }
    }
}
