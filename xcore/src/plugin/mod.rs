//! The [`Plugin`] trait: what `#[plugin]` implements, and what a plugin written
//! by hand implements.
//!
//! A plugin has metadata ([`PluginMeta`]) and a table of [`Routes`], each a
//! [`RouteInfo`] (method, path, guard) paired with an ordinary axum handler
//! (`route.rs`, `routes.rs`).
//!
//! Beside them, what makes a plugin a living unit: its typed configuration
//! and on/off switch (`[plugins.<name>]`, `config.rs`) and the plugins it
//! depends on, which order everything the app does with them
//! (`dependencies.rs`), and its start and stop hooks (`lifecycle.rs`), run
//! by `app/lifecycle.rs` in that order.

mod config;
mod dependencies;
mod lifecycle;
mod route;
mod routes;

use std::borrow::Cow;
use std::sync::Arc;

use crate::db::Migration;

pub use config::{ConfigSpec, PluginConfig, PluginConfigType};
pub(crate) use config::{PluginSettings, resolve as resolve_settings};
pub(crate) use dependencies::in_dependency_order;
pub use lifecycle::{FromPluginContext, Hook, HookOutput, PluginContext};
pub use route::{Method, MountedRoute, RouteInfo};
pub(crate) use routes::RouteEntry;
pub use routes::Routes;

/// A set of routes mounted under a prefix, with metadata.
///
/// Implemented by `#[plugin]`, or by hand:
///
/// ```
/// use std::sync::Arc;
/// use xcore::prelude::*;
/// use xcore::{Guard, PluginMeta, RouteInfo, Routes};
///
/// pub struct Items;
///
/// async fn list() -> &'static str { "[]" }
/// async fn remove(Path(id): Path<u64>) -> StatusCode { StatusCode::NO_CONTENT }
///
/// impl Plugin for Items {
///     fn meta(&self) -> PluginMeta {
///         PluginMeta::new("items").version("1.0.0").prefix("/items")
///     }
///     fn routes(self: Arc<Self>) -> Routes {
///         Routes::new()
///             .route(RouteInfo::get("/"), list)
///             .route(RouteInfo::delete("/{id}").guard(Guard::role("admin")), remove)
///     }
/// }
/// ```
///
/// Handlers are ordinary axum handlers over [`AppState`](crate::AppState); a plugin that needs
/// its own state keeps it in `self` and captures the `Arc<Self>` it receives
/// in [`Plugin::routes`].
pub trait Plugin: Send + Sync + 'static {
    /// Name, version, prefix and description.
    fn meta(&self) -> PluginMeta;

    /// The plugin's routes, relative to its prefix.
    fn routes(self: Arc<Self>) -> Routes;

    /// SQL migrations, applied at start-up in version order (the plugin's
    /// history is kept apart from other plugins', and the plugins it
    /// depends on are migrated first). None by default.
    fn migrations(&self) -> &'static [Migration] {
        &[]
    }

    /// How its `[plugins.<name>]` section is read, if it has settings
    /// beyond `enabled` (`#[plugin(config = T)]`); see [`ConfigSpec`] and
    /// the [`PluginConfig`] extractor. None by default: a section with
    /// other keys than `enabled` refuses the start.
    fn config(&self) -> Option<ConfigSpec> {
        None
    }

    /// Its start hook (`#[on_start]`), run once the app is assembled, after
    /// the start hooks of the plugins it depends on; `None` by default.
    fn on_start(self: Arc<Self>, context: PluginContext) -> Option<Hook> {
        let _ = context;
        None
    }

    /// Its stop hook (`#[on_stop]`), run at shutdown once the requests in
    /// flight are done, before the stop hooks of the plugins it depends on;
    /// `None` by default.
    fn on_stop(self: Arc<Self>, context: PluginContext) -> Option<Hook> {
        let _ = context;
        None
    }
}

/// Descriptive data of a plugin.
///
/// ```
/// let meta = xcore::PluginMeta::new("catalogue")
///     .version("1.0.0")
///     .prefix("/catalogue")
///     .tags(["shop"])
///     .description("Products on sale");
/// assert_eq!(meta.prefix, "/catalogue");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PluginMeta {
    /// Unique name among the app's plugins.
    pub name: Cow<'static, str>,
    /// Version of the plugin.
    pub version: Cow<'static, str>,
    /// Path prefix of every route: empty or `/segment(s)` without trailing `/`.
    pub prefix: Cow<'static, str>,
    /// Tags (grouping in API documentation).
    pub tags: Vec<Cow<'static, str>>,
    /// What the plugin is for.
    pub description: Option<Cow<'static, str>>,
    /// The plugins it needs, each `"name"` or `"name@<version requirement>"`
    /// (`"catalogue@^1"`): mounted, migrated and started before it; a
    /// missing, disabled or mismatched one refuses the start.
    pub depends_on: Vec<Cow<'static, str>>,
}

impl PluginMeta {
    /// Metadata with `name`, version `0.0.0` and prefix `/{name}`.
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        let name = name.into();
        PluginMeta {
            prefix: Cow::Owned(format!("/{name}")),
            name,
            version: Cow::Borrowed("0.0.0"),
            tags: Vec::new(),
            description: None,
            depends_on: Vec::new(),
        }
    }

    /// Sets the version.
    pub fn version(mut self, version: impl Into<Cow<'static, str>>) -> Self {
        self.version = version.into();
        self
    }

    /// Sets the prefix (`""` mounts the routes at the root).
    pub fn prefix(mut self, prefix: impl Into<Cow<'static, str>>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the tags.
    pub fn tags<I, T>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<Cow<'static, str>>,
    {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<Cow<'static, str>>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the plugins it depends on (`"catalogue"`, `"catalogue@^1"`).
    ///
    /// ```
    /// let meta = xcore::PluginMeta::new("tableau-de-bord").depends_on(["catalogue@^1"]);
    /// assert_eq!(meta.depends_on, ["catalogue@^1"]);
    /// ```
    pub fn depends_on<I, T>(mut self, plugins: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<Cow<'static, str>>,
    {
        self.depends_on = plugins.into_iter().map(Into::into).collect();
        self
    }
}
