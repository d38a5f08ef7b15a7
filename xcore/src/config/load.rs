//! Loading: `xcore.toml` (or `XCORE_CONFIG`), then `DATABASE_URL` /
//! `REDIS_URL`, then `XCORE_*` variables; an unknown variable is a warning
//! naming the closest key, not an error.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};

use super::Config;
use crate::error::Error;

impl Config {
    /// Loads `xcore.toml` (or the file named by `XCORE_CONFIG`) if it exists,
    /// then applies `XCORE_*` environment variables on top.
    pub fn load() -> Result<Self, Error> {
        let path = std::env::var_os("XCORE_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("xcore.toml"));
        Self::load_from(&path)
    }

    /// Like [`Config::load`] with an explicit file path (a missing file is not an error).
    pub fn load_from(path: &Path) -> Result<Self, Error> {
        let unknown = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut config: Config = Figment::new()
            .merge(Toml::file(path))
            .merge(conventional_env())
            .merge(env_provider(
                Config::keys(),
                std::sync::Arc::clone(&unknown),
            ))
            .extract()
            // figment names the profile first (`default.reservations`), which
            // is no key anyone wrote.
            .map_err(|err| Error::Config(err.to_string().replace("\"default.", "\"")))?;
        let unknown = std::mem::take(&mut *unknown.lock().unwrap_or_else(|p| p.into_inner()));
        config.warnings.extend(unknown);
        Ok(config)
    }

    /// Every configuration key, dotted (`auth.login_max_failures`), from
    /// the configuration types themselves.
    ///
    /// ```
    /// let keys = xcore::config::Config::keys();
    /// assert!(keys.contains(&"app_secret".to_owned()));
    /// assert!(keys.contains(&"database.url".to_owned()));
    /// ```
    pub fn keys() -> Vec<String> {
        fn walk(prefix: &str, value: &serde_json::Value, out: &mut Vec<String>) {
            match value {
                serde_json::Value::Object(fields) if !fields.is_empty() => {
                    for (name, field) in fields {
                        let key = if prefix.is_empty() {
                            name.clone()
                        } else {
                            format!("{prefix}.{name}")
                        };
                        walk(&key, field, out);
                    }
                }
                _ => out.push(prefix.to_owned()),
            }
        }
        let mut keys = Vec::new();
        if let Ok(value) = serde_json::to_value(Config::default()) {
            walk("", &value, &mut keys);
        }
        keys
    }

    /// What loading found worth a warning (unknown `XCORE_*` variables),
    /// logged when the app starts.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

/// Sections of the configuration; `XCORE_<SECTION>_<KEY>` maps to `section.key`.
const SECTIONS: &[&str] = &[
    "auth",
    "admin",
    "otp",
    "openapi",
    "http",
    "database",
    "cache",
    "rate_limit",
    "mail",
    "log",
    "metrics",
    "lifecycle",
];

/// `DATABASE_URL` and `REDIS_URL`, the names every hosting platform sets.
fn conventional_env() -> Env {
    Env::raw().only(&["DATABASE_URL", "REDIS_URL"]).map(|key| {
        match key.as_str().to_ascii_lowercase().as_str() {
            "database_url" => "database.url".into(),
            _ => "cache.url".into(),
        }
    })
}

/// `XCORE_<SECTION>_<KEY>` as a dotted key, `auth.jwt_secret`.
fn dotted(variable: &str) -> String {
    let key = variable.to_ascii_lowercase();
    for section in SECTIONS {
        if let Some(rest) = key.strip_prefix(section).and_then(|r| r.strip_prefix('_')) {
            return format!("{section}.{rest}");
        }
    }
    key
}

/// The `XCORE_*` variables that name a key. Others are not errors (a
/// harness's or a tool's variables share the prefix): each is reported in
/// `unknown` with the closest key, and left out.
fn env_provider(keys: Vec<String>, unknown: std::sync::Arc<std::sync::Mutex<Vec<String>>>) -> Env {
    Env::prefixed("XCORE_").filter_map(move |variable| {
        let raw = variable.as_str().to_ascii_lowercase();
        // XCORE_CONFIG names the file; XCORE_TEST_* belong to the test suite;
        // XCORE_MACROS_DEBUG to the macros.
        if raw == "config" || raw.starts_with("test_") || raw == "macros_debug" {
            return None;
        }
        // XCORE_PLUGINS__<NAME>__<KEY>: checked against the plugin's own
        // configuration when the app is built.
        if let Some(rest) = raw.strip_prefix("plugins__") {
            return Some(format!("plugins.{}", rest.replace("__", ".")).into());
        }
        let key = dotted(&raw);
        if keys.contains(&key) {
            return Some(key.into());
        }
        let closest = closest(&key, keys.iter().map(String::as_str))
            .map(|known| format!("XCORE_{}", known.replace('.', "_").to_ascii_uppercase()))
            .unwrap_or_default();
        unknown
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(format!(
                "XCORE_{} is not a configuration variable and is ignored (the closest is {closest})",
                raw.to_ascii_uppercase()
            ));
        None
    })
}

/// The candidate closest to `word` (a typo's likely meaning), if any.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .min_by_key(|candidate| edit_distance(candidate, word))
}

/// Levenshtein distance, to suggest the key a typo meant.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push(
                (previous[j] + cost)
                    .min(previous[j + 1] + 1)
                    .min(current[j] + 1),
            );
        }
        previous = current;
    }
    previous[b.len()]
}
