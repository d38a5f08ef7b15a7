//! Start and stop hooks: what a plugin does when the app starts (build a
//! client, load a table, warm its cache) and when it stops (flush, close).
//!
//! `#[on_start]` and `#[on_stop]` mark ordinary `async fn`s of a
//! `#[plugin]` block, with or without `&self`, whose arguments are read
//! from the plugin's [`PluginContext`] as a route's are from the request
//! ([`FromPluginContext`]: `AppState`, `Db`, `Cache`, `Otp`, `Mailer`,
//! `PluginConfig<T>`, the context itself); they return nothing or a
//! `Result<(), E>` with `E: Into<Error>`. The app runs start hooks in
//! dependency order and stop hooks in reverse (`app/lifecycle.rs`). What a
//! start hook builds is kept by the plugin itself (a `OnceLock` field, read
//! by its `&self` routes): no global.

use std::future::Future;
use std::pin::Pin;

use crate::cache::Cache;
use crate::db::Db;
use crate::error::Error;
use crate::mail::Mailer;
use crate::otp::Otp;
use crate::web::AppState;

use super::PluginConfig;

/// A running hook.
pub type Hook = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

/// What a hook is given: the state as its plugin's routes see it (its
/// cache namespace, its codes, its configuration).
#[derive(Clone)]
pub struct PluginContext {
    state: AppState,
}

impl PluginContext {
    pub(crate) fn new(state: AppState) -> Self {
        PluginContext { state }
    }

    /// The plugin's view of the app's state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The plugin's name.
    pub fn plugin(&self) -> &str {
        self.state.plugin()
    }
}

/// An argument of a hook, read from its context.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an argument of a start or stop hook",
    label = "not something a hook's context gives",
    note = "a hook takes `AppState`, `Db`, `Cache`, `Otp`, `Mailer`, `PluginConfig<T>` or `PluginContext`"
)]
pub trait FromPluginContext: Sized {
    /// Reads it; an error fails the hook.
    fn from_context(context: &PluginContext) -> Result<Self, Error>;
}

impl FromPluginContext for PluginContext {
    fn from_context(context: &PluginContext) -> Result<Self, Error> {
        Ok(context.clone())
    }
}

impl FromPluginContext for AppState {
    fn from_context(context: &PluginContext) -> Result<Self, Error> {
        Ok(context.state.clone())
    }
}

impl FromPluginContext for Db {
    fn from_context(context: &PluginContext) -> Result<Self, Error> {
        Ok(context.state.db().clone())
    }
}

impl FromPluginContext for Cache {
    fn from_context(context: &PluginContext) -> Result<Self, Error> {
        Ok(context.state.cache().clone())
    }
}

impl FromPluginContext for Otp {
    fn from_context(context: &PluginContext) -> Result<Self, Error> {
        Ok(context.state.otp().clone())
    }
}

impl FromPluginContext for Mailer {
    fn from_context(context: &PluginContext) -> Result<Self, Error> {
        Ok(context.state.mailer().clone())
    }
}

impl<T: Send + Sync + 'static> FromPluginContext for PluginConfig<T> {
    fn from_context(context: &PluginContext) -> Result<Self, Error> {
        context.state.plugin_config::<T>().map(PluginConfig)
    }
}

/// What a hook may return: nothing, or a `Result`.
#[diagnostic::on_unimplemented(
    message = "a start or stop hook returns nothing or `Result<(), E>`, not `{Self}`",
    label = "the hook's return type",
    note = "`E` converts into `xcore::Error` (as `xcore::Result<()>` does)"
)]
pub trait HookOutput {
    /// As a `Result`.
    fn into_result(self) -> Result<(), Error>;
}

impl HookOutput for () {
    fn into_result(self) -> Result<(), Error> {
        Ok(())
    }
}

impl<E: Into<Error>> HookOutput for Result<(), E> {
    fn into_result(self) -> Result<(), Error> {
        self.map_err(Into::into)
    }
}
