//! A plugin's own configuration: the `[plugins.<name>]` section of
//! `xcore.toml`, or `XCORE_PLUGINS__<NAME>__<KEY>` variables (a hyphen of
//! the name written `_`).
//!
//! Every section may say `enabled = false`; a plugin declared with
//! `#[plugin(config = T)]` reads the rest of its section as a `T`, checked
//! when the app is built: a key `T` does not have, a value of the wrong
//! type or a missing required key refuses the start, naming the key's full
//! path (`plugins.catalogue.page_siz`) and, for an unknown one, the closest
//! key. A section for no registered plugin is refused the same way.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::closest;
use crate::error::Error;
use crate::web::AppState;

use super::Plugin;

use crate::web::Settings;

/// What a plugin's configuration type must be: deserializable (serde), with
/// a JSON schema (schemars, for the closest key to a misspelt one and
/// `check-config`), and shareable between threads. Implemented for every
/// such type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a plugin's configuration",
    label = "the type its `[plugins.<name>]` section is read as",
    note = "derive `serde::Deserialize` and `schemars::JsonSchema` for it"
)]
pub trait PluginConfigType:
    DeserializeOwned + schemars::JsonSchema + Send + Sync + 'static
{
}

impl<T: DeserializeOwned + schemars::JsonSchema + Send + Sync + 'static> PluginConfigType for T {}

/// How a plugin's section is read: what `#[plugin(config = T)]` declares,
/// through [`Plugin::config`].
///
/// ```
/// use serde::Deserialize;
/// use xcore::ConfigSpec;
///
/// #[derive(Deserialize, schemars::JsonSchema)]
/// struct CatalogueConfig {
///     #[serde(default)]
///     page_size: u32,
/// }
///
/// let spec = ConfigSpec::of::<CatalogueConfig>();
/// assert_eq!(spec.keys(), ["page_size"]);
/// ```
#[derive(Clone, Copy)]
pub struct ConfigSpec {
    type_name: &'static str,
    parse: fn(Value, &str) -> Result<Settings, Vec<String>>,
    schema: fn() -> schemars::Schema,
}

impl fmt::Debug for ConfigSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigSpec")
            .field("type", &self.type_name)
            .finish()
    }
}

impl ConfigSpec {
    /// A section read as a `T`: deserialized with serde, described by its
    /// JSON schema (the keys a misspelt one is compared with, and what
    /// `check-config` shows).
    pub fn of<T: PluginConfigType>() -> Self {
        ConfigSpec {
            type_name: std::any::type_name::<T>(),
            parse: parse::<T>,
            schema: || schemars::schema_for!(T),
        }
    }

    /// The JSON schema of the section.
    pub fn schema(&self) -> schemars::Schema {
        (self.schema)()
    }

    /// The section's own keys (those of its top level), as the schema
    /// lists them.
    pub fn keys(&self) -> Vec<String> {
        top_level_keys(&self.schema())
    }
}

/// The keys of the top level of `schema`.
fn top_level_keys(schema: &schemars::Schema) -> Vec<String> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| properties.keys().cloned().collect())
        .unwrap_or_default()
}

/// `section` as a `T`; the problems (each naming its key, under `path`)
/// otherwise, unknown keys included, each top-level one with the closest
/// key `T` has.
fn parse<T: PluginConfigType>(section: Value, path: &str) -> Result<Settings, Vec<String>> {
    let mut unknown = Vec::new();
    let mut note = |key: serde_ignored::Path<'_>| unknown.push(key.to_string());
    let deserializer = serde_ignored::Deserializer::new(section, &mut note);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(deserializer);
    // The schema is only built when there is something to suggest.
    let keys = if unknown.is_empty() {
        Vec::new()
    } else {
        top_level_keys(&schemars::schema_for!(T))
    };
    let mut problems: Vec<String> = unknown
        .into_iter()
        .map(|key| {
            let hint = if key.contains('.') {
                String::new()
            } else {
                match closest(&key, keys.iter().map(String::as_str)) {
                    Some(near) => format!(" (the closest is {path}.{near})"),
                    None => "; this section has no keys".to_owned(),
                }
            };
            format!("{path}.{key}: unknown key{hint}")
        })
        .collect();
    match parsed {
        Ok(value) if problems.is_empty() => Ok(Arc::new(value)),
        Ok(_) => Err(problems),
        Err(err) => {
            let at = err.path().to_string();
            let at = if at == "." {
                path.to_owned()
            } else {
                format!("{path}.{at}")
            };
            problems.push(format!("{at}: {}", err.inner()));
            Err(problems)
        }
    }
}

/// What the configuration says of each plugin: whether it is on, and its
/// settings when it declares a type for them.
#[derive(Default, Clone)]
pub(crate) struct PluginSettings {
    disabled: Vec<String>,
    settings: BTreeMap<String, Settings>,
}

impl PluginSettings {
    /// Whether the plugin named `name` is on (`plugins.<name>.enabled`).
    pub(crate) fn enabled(&self, name: &str) -> bool {
        !self.disabled.iter().any(|disabled| disabled == name)
    }

    /// The settings of the plugin named `name`, if it declares a type.
    pub(crate) fn of(&self, name: &str) -> Option<Settings> {
        self.settings.get(name).cloned()
    }
}

/// How a section's name is compared with a plugin's: a variable cannot hold
/// `-`, so `tableau_de_bord` is `tableau-de-bord`'s too.
fn same_name(section: &str, plugin: &str) -> bool {
    section.replace('-', "_") == plugin.replace('-', "_")
}

/// Reads every section of `sections` against the registered `plugins`:
/// every problem found, in one error, or what the sections say.
pub(crate) fn resolve(
    plugins: &[Arc<dyn Plugin>],
    sections: &BTreeMap<String, Value>,
) -> Result<PluginSettings, Error> {
    let names: Vec<String> = plugins.iter().map(|p| p.meta().name.into_owned()).collect();
    let mut problems = Vec::new();
    // Each plugin's section, the forms of its name merged (the one written
    // as a variable, with `_`, over the file's).
    let mut by_plugin: BTreeMap<&str, serde_json::Map<String, Value>> = BTreeMap::new();
    let mut ordered: Vec<(&String, &Value)> = sections.iter().collect();
    ordered.sort_by_key(|(section, _)| !section.contains('-'));
    for (section, value) in ordered {
        let Some(name) = names.iter().find(|name| same_name(section, name)) else {
            let hint = closest(section, names.iter().map(String::as_str))
                .map(|name| format!(" (the closest is `{name}`)"))
                .unwrap_or_default();
            problems.push(format!(
                "plugins.{section}: no plugin is named `{section}`{hint}; the app has {}",
                names.join(", ")
            ));
            continue;
        };
        match value {
            Value::Object(keys) => by_plugin
                .entry(name)
                .or_default()
                .extend(keys.iter().map(|(k, v)| (k.clone(), v.clone()))),
            _ => problems.push(format!(
                "plugins.{section}: a plugin's section is a table of keys, not a value"
            )),
        }
    }
    let mut resolved = PluginSettings::default();
    for plugin in plugins {
        let name = plugin.meta().name.into_owned();
        let mut section = by_plugin.remove(name.as_str()).unwrap_or_default();
        let path = format!("plugins.{name}");
        match section.remove("enabled") {
            None | Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => {
                resolved.disabled.push(name);
                continue;
            }
            Some(other) => {
                problems.push(format!("{path}.enabled: `true` or `false`, not {other}"));
                continue;
            }
        }
        match plugin.config() {
            Some(spec) => match (spec.parse)(Value::Object(section), &path) {
                Ok(settings) => {
                    resolved.settings.insert(name, settings);
                }
                Err(found) => problems.extend(found),
            },
            None => problems.extend(section.keys().map(|key| {
                format!("{path}.{key}: plugin `{name}` has no configuration but `enabled`")
            })),
        }
    }
    if problems.is_empty() {
        Ok(resolved)
    } else {
        Err(Error::Config(problems.join("; ")))
    }
}

/// The configuration of the plugin serving the request, as the type it
/// declared with `#[plugin(config = T)]`.
///
/// ```
/// use serde::Deserialize;
/// use xcore::prelude::*;
///
/// #[derive(Deserialize, schemars::JsonSchema)]
/// struct CatalogueConfig {
///     #[serde(default = "twenty")]
///     page_size: usize,
/// }
///
/// fn twenty() -> usize { 20 }
///
/// pub struct Catalogue;
///
/// #[plugin(config = CatalogueConfig)]
/// impl Catalogue {
///     #[route(get, "/")]
///     async fn list(config: PluginConfig<CatalogueConfig>) -> String {
///         format!("{} a page", config.page_size)
///     }
/// }
/// ```
///
/// A handler that asks for another type than its plugin's is a
/// programming error, answered with a 500 that names both.
pub struct PluginConfig<T>(pub Arc<T>);

impl<T> std::ops::Deref for PluginConfig<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T, S> FromRequestParts<S> for PluginConfig<T>
where
    T: Send + Sync + 'static,
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(_parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let state = AppState::from_ref(state);
        state.plugin_config::<T>().map(PluginConfig)
    }
}
