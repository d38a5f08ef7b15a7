//! The guide's configuration reference (`book/src/configuration.md`) holds
//! every key of the configuration types, with its variable and its
//! default, and nothing else: a key added to `xcore::config` without a
//! line in the chapter fails here, with the line to add.

use serde_json::Value;
use xcore::config::Config;

const CHAPTER: &str = include_str!("../../book/src/configuration.md");

/// One row of the chapter's tables: key, variables, default, meaning.
struct Row {
    key: String,
    variables: String,
    default: String,
}

/// The rows of every table whose first cell is a key in backticks.
fn rows(chapter: &str) -> Vec<Row> {
    chapter
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim().strip_prefix('|')?.split('|').collect();
            let key = cells.first()?.trim().strip_prefix('`')?.strip_suffix('`')?;
            Some(Row {
                key: key.to_owned(),
                variables: cells.get(1)?.trim().to_owned(),
                default: cells.get(2)?.trim().to_owned(),
            })
        })
        .collect()
}

/// Every key of the types with its default, as `Config::default()`
/// serialises it.
fn defaults() -> Vec<(String, Value)> {
    let value = serde_json::to_value(Config::default()).expect("serialisable");
    Config::keys()
        .into_iter()
        .map(|key| {
            let default = key.split('.').fold(&value, |at, part| &at[part]).clone();
            (key, default)
        })
        .collect()
}

/// The variable that sets `key`.
fn variable(key: &str) -> String {
    format!("XCORE_{}", key.replace('.', "_").to_ascii_uppercase())
}

/// How a default opens its cell: the value in backticks, or `none` when
/// there is none.
fn rendered(default: &Value) -> Option<String> {
    match default {
        Value::Null => None,
        Value::String(text) => Some(format!("`{text}`")),
        Value::Object(map) if map.is_empty() => None,
        Value::Array(list) if list.is_empty() => None,
        other => Some(format!("`{other}`")),
    }
}

/// Whether `row`'s default cell opens with `default` as [`rendered`].
fn opens_with(row: &Row, default: &Value) -> bool {
    match rendered(default) {
        Some(value) => row.default.starts_with(&value),
        None => row.default.starts_with("none"),
    }
}

/// What the chapter gets wrong against the types, one line each (with the
/// line to write).
fn problems(chapter: &str) -> Vec<String> {
    let rows = rows(chapter);
    let mut problems = Vec::new();
    for (key, default) in defaults() {
        let expected_variable = variable(&key);
        let line = format!(
            "| `{key}` | `{expected_variable}` | {} | ... |",
            rendered(&default).unwrap_or_else(|| "none: ...".to_owned())
        );
        let Some(row) = rows.iter().find(|row| row.key == key) else {
            problems.push(format!("missing: {line}"));
            continue;
        };
        if !row.variables.contains(&format!("`{expected_variable}`")) {
            problems.push(format!("wrong variable: {line}"));
        }
        if !opens_with(row, &default) {
            problems.push(format!("wrong default `{}`: {line}", row.default));
        }
    }
    let known = Config::keys();
    for row in &rows {
        if !known.contains(&row.key) {
            problems.push(format!(
                "not a key of the configuration types: `{}`",
                row.key
            ));
        }
    }
    problems
}

#[test]
fn the_configuration_chapter_lists_every_key_with_its_variable_and_default() {
    let problems = problems(CHAPTER);
    assert!(
        problems.is_empty(),
        "book/src/configuration.md and xcore::config disagree:\n{}",
        problems.join("\n")
    );
}

#[test]
fn a_key_without_a_line_is_reported_with_the_line_to_write() {
    let without: String = CHAPTER
        .lines()
        .filter(|line| !line.starts_with("| `cache.timeout_ms`"))
        .collect::<Vec<_>>()
        .join("\n");
    let problems = problems(&without);
    assert!(
        problems
            .iter()
            .any(|p| p
                .starts_with("missing: | `cache.timeout_ms` | `XCORE_CACHE_TIMEOUT_MS` | `500`")),
        "{problems:?}"
    );
}

/// Other chapters show a few keys in tables of their own: those lines must
/// agree with the types as well.
#[test]
fn other_chapters_quote_keys_with_their_variable_and_default() {
    let chapters = [
        ("cache.md", include_str!("../../book/src/cache.md")),
        ("database.md", include_str!("../../book/src/database.md")),
        (
            "rate-limits.md",
            include_str!("../../book/src/rate-limits.md"),
        ),
        (
            "production.md",
            include_str!("../../book/src/production.md"),
        ),
        (
            "authentication.md",
            include_str!("../../book/src/authentication.md"),
        ),
        ("otp.md", include_str!("../../book/src/otp.md")),
        ("api-docs.md", include_str!("../../book/src/api-docs.md")),
        ("security.md", include_str!("../../book/src/security.md")),
    ];
    let defaults = defaults();
    let mut problems = Vec::new();
    for (chapter, text) in chapters {
        for row in rows(text) {
            let Some((key, default)) = defaults.iter().find(|(key, _)| *key == row.key) else {
                continue;
            };
            if !row.variables.contains(&format!("`{}`", variable(key))) {
                problems.push(format!("{chapter}: `{key}` without `{}`", variable(key)));
            }
            if !opens_with(&row, default) {
                problems.push(format!("{chapter}: `{key}` default `{}`", row.default));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_chapter_of_the_guide_is_compiled_as_doctests() {
    let summary = include_str!("../../book/src/SUMMARY.md");
    let included = include_str!("../src/lib.rs");
    for line in summary.lines() {
        let Some(file) = line
            .split("](")
            .nth(1)
            .and_then(|rest| rest.strip_suffix(')'))
        else {
            continue;
        };
        assert!(
            included.contains(&format!("book/src/{file}")),
            "{file} is in the guide but not in tests/src/lib.rs: its code is never compiled"
        );
    }
}
