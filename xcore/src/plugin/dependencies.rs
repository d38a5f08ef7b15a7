//! The order of plugins: each after the plugins it depends on
//! (`depends_on`), otherwise in registration order. Everything the app
//! does with its plugins follows it (migrations, mounting, and start
//! hooks; stop hooks in reverse). A dependency that is not registered, is
//! disabled, has another version than required, or closes a cycle refuses
//! the start, naming the plugins involved.

use std::sync::Arc;

use xcore_rules::name::Dependency;

use super::{Plugin, PluginSettings};
use crate::error::Error;

/// The enabled plugins among `plugins`, each after those it depends on.
pub(crate) fn in_dependency_order(
    plugins: &[Arc<dyn Plugin>],
    settings: &PluginSettings,
) -> Result<Vec<Arc<dyn Plugin>>, Error> {
    let metas: Vec<_> = plugins.iter().map(|p| p.meta()).collect();
    let enabled: Vec<usize> = (0..plugins.len())
        .filter(|&i| settings.enabled(&metas[i].name))
        .collect();
    // For each enabled plugin, the indices of the plugins it needs.
    let mut needs: Vec<Vec<usize>> = vec![Vec::new(); plugins.len()];
    let mut problems = Vec::new();
    for &i in &enabled {
        let name = &metas[i].name;
        for spec in &metas[i].depends_on {
            let Dependency {
                name: wanted,
                version,
            } = match xcore_rules::name::dependency(spec) {
                Ok(dependency) => dependency,
                Err(invalid) => {
                    problems.push(format!("plugin `{name}`: {invalid}"));
                    continue;
                }
            };
            let Some(j) = metas.iter().position(|meta| meta.name == wanted) else {
                problems.push(format!(
                    "plugin `{name}` depends on `{wanted}`, which is not registered \
                     (App::plugin({wanted}))"
                ));
                continue;
            };
            if !settings.enabled(&wanted) {
                problems.push(format!(
                    "plugin `{name}` depends on `{wanted}`, which is disabled \
                     (plugins.{wanted}.enabled = false): enable it, or disable `{name}` too"
                ));
                continue;
            }
            if let Some(requirement) = version {
                let found = &metas[j].version;
                match semver::Version::parse(found) {
                    Ok(v) if requirement.matches(&v) => {}
                    _ => {
                        problems.push(format!(
                            "plugin `{name}` needs `{wanted}` {requirement}, and `{wanted}` is {found}"
                        ));
                        continue;
                    }
                }
            }
            needs[i].push(j);
        }
    }
    if !problems.is_empty() {
        return Err(Error::Setup(problems.join("; ")));
    }

    // Depth first, in registration order: a plugin is placed once what it
    // needs is; meeting one on the current path again is a cycle.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Placed,
    }
    let mut marks = vec![Mark::New; plugins.len()];
    let mut order = Vec::with_capacity(enabled.len());
    let mut path: Vec<usize> = Vec::new();
    fn visit(
        i: usize,
        needs: &[Vec<usize>],
        marks: &mut [Mark],
        path: &mut Vec<usize>,
        order: &mut Vec<usize>,
    ) -> Result<(), Vec<usize>> {
        match marks[i] {
            Mark::Placed => return Ok(()),
            Mark::OnPath => {
                let from = path.iter().position(|&p| p == i).unwrap_or(0);
                let mut cycle = path[from..].to_vec();
                cycle.push(i);
                return Err(cycle);
            }
            Mark::New => {}
        }
        marks[i] = Mark::OnPath;
        path.push(i);
        for &j in &needs[i] {
            visit(j, needs, marks, path, order)?;
        }
        path.pop();
        marks[i] = Mark::Placed;
        order.push(i);
        Ok(())
    }
    for &i in &enabled {
        if let Err(cycle) = visit(i, &needs, &mut marks, &mut path, &mut order) {
            let names: Vec<&str> = cycle.iter().map(|&k| metas[k].name.as_ref()).collect();
            return Err(Error::Setup(format!(
                "plugins depend on each other in a cycle: {}",
                names.join(" → ")
            )));
        }
    }
    Ok(order.into_iter().map(|i| Arc::clone(&plugins[i])).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::{PluginMeta, Routes};

    struct P(PluginMeta);

    impl Plugin for P {
        fn meta(&self) -> PluginMeta {
            self.0.clone()
        }
        fn routes(self: Arc<Self>) -> Routes {
            Routes::new()
        }
    }

    fn plugin(
        name: &'static str,
        version: &'static str,
        needs: &[&'static str],
    ) -> Arc<dyn Plugin> {
        Arc::new(P(PluginMeta::new(name)
            .version(version)
            .depends_on(needs.iter().copied())))
    }

    fn names(plugins: &[Arc<dyn Plugin>]) -> Vec<String> {
        plugins.iter().map(|p| p.meta().name.into_owned()).collect()
    }

    fn order(plugins: &[Arc<dyn Plugin>]) -> Result<Vec<String>, String> {
        in_dependency_order(plugins, &PluginSettings::default())
            .map(|ordered| names(&ordered))
            .map_err(|err| err.to_string())
    }

    #[test]
    fn each_plugin_comes_after_what_it_needs_otherwise_in_registration_order() {
        let plugins = [
            plugin("c", "1.0.0", &["b"]),
            plugin("a", "1.1.0", &[]),
            plugin("b", "1.2.0", &["a@^1.1"]),
            plugin("d", "1.0.0", &[]),
        ];
        assert_eq!(order(&plugins).expect("ordered"), ["a", "b", "c", "d"]);
    }

    #[test]
    fn missing_mismatched_and_circular_dependencies_are_named() {
        let missing = order(&[plugin("a", "1.0.0", &["ghost"])]).expect_err("missing");
        assert!(
            missing.contains("`a` depends on `ghost`, which is not registered"),
            "{missing}"
        );
        let old =
            order(&[plugin("a", "1.0.0", &["b@^2"]), plugin("b", "1.4.0", &[])]).expect_err("old");
        assert!(old.contains("`a` needs `b` ^2, and `b` is 1.4.0"), "{old}");
        let cycle = order(&[
            plugin("a", "1.0.0", &["b"]),
            plugin("b", "1.0.0", &["c"]),
            plugin("c", "1.0.0", &["a"]),
        ])
        .expect_err("a cycle");
        assert!(cycle.contains("a → b → c → a"), "{cycle}");
    }
}
