//! Running the plugins' start and stop hooks: start hooks in dependency
//! order, each within `lifecycle.start_timeout_secs`; on a failure, the
//! plugins already started are stopped in reverse and the start fails
//! naming the plugin. Stop hooks run once, in reverse, each within
//! `lifecycle.stop_timeout_secs`, a failure logged and the next run.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::Config;
use crate::error::Error;
use crate::plugin::{Plugin, PluginContext, PluginSettings};
use crate::web::{AppState, Hooks, Step};

/// The enabled plugins, in dependency order, and their settings (each
/// hook gets its plugin's view of the state, made from the app's).
pub(super) struct Lifecycle {
    plugins: Vec<Arc<dyn Plugin>>,
    settings: PluginSettings,
    /// Indices of the plugins whose start hook returned, in order.
    started: Mutex<Vec<usize>>,
    start_timeout: Duration,
    stop_timeout: Duration,
}

impl Lifecycle {
    pub(super) fn new(
        plugins: Vec<Arc<dyn Plugin>>,
        settings: PluginSettings,
        config: &Config,
    ) -> Self {
        Lifecycle {
            plugins,
            settings,
            started: Mutex::new(Vec::new()),
            start_timeout: Duration::from_secs(config.lifecycle.start_timeout_secs),
            stop_timeout: Duration::from_secs(config.lifecycle.stop_timeout_secs),
        }
    }

    /// `plugin`'s context: the app's `state` as its routes see it.
    fn context(&self, plugin: &Arc<dyn Plugin>, state: &AppState) -> PluginContext {
        let name = plugin.meta().name;
        PluginContext::new(state.for_plugin(&name, self.settings.of(&name)))
    }

    async fn start_all(&self, root: &AppState) -> Result<(), Error> {
        for (index, plugin) in self.plugins.iter().enumerate() {
            let context = self.context(plugin, root);
            let name = context.plugin().to_owned();
            if let Some(hook) = Arc::clone(plugin).on_start(context) {
                let failure = match tokio::time::timeout(self.start_timeout, hook).await {
                    Ok(Ok(())) => None,
                    Ok(Err(err)) => Some(format!("plugin `{name}` failed to start: {err}")),
                    Err(_) => Some(format!(
                        "plugin `{name}` did not start within {} s (lifecycle.start_timeout_secs)",
                        self.start_timeout.as_secs()
                    )),
                };
                if let Some(failure) = failure {
                    tracing::error!("{failure}; stopping the plugins already started");
                    self.stop_all(root).await;
                    return Err(Error::Setup(failure));
                }
                tracing::debug!(plugin = %name, "plugin started");
            }
            self.started
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(index);
        }
        Ok(())
    }

    async fn stop_all(&self, root: &AppState) {
        let started = std::mem::take(&mut *self.started.lock().unwrap_or_else(|p| p.into_inner()));
        for index in started.into_iter().rev() {
            let plugin = &self.plugins[index];
            let context = self.context(plugin, root);
            let name = context.plugin().to_owned();
            let Some(hook) = Arc::clone(plugin).on_stop(context) else {
                continue;
            };
            match tokio::time::timeout(self.stop_timeout, hook).await {
                Ok(Ok(())) => tracing::debug!(plugin = %name, "plugin stopped"),
                Ok(Err(err)) => {
                    tracing::error!(plugin = %name, error = %err, "plugin failed to stop")
                }
                Err(_) => tracing::error!(
                    plugin = %name,
                    "plugin did not stop within {} s (lifecycle.stop_timeout_secs)",
                    self.stop_timeout.as_secs()
                ),
            }
        }
    }
}

impl Hooks for Lifecycle {
    fn start<'a>(&'a self, state: &'a AppState) -> Step<'a, Result<(), Error>> {
        Box::pin(self.start_all(state))
    }

    fn stop<'a>(&'a self, state: &'a AppState) -> Step<'a, ()> {
        Box::pin(self.stop_all(state))
    }
}
