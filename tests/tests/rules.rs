//! One table of paths, prefixes, names and cache keys, fed through the
//! macros (trybuild) and through the runtime (a `Plugin` written by hand):
//! both must give the verdict and the message of `xcore_rules`, the crate
//! that holds each rule once.
//!
//! The macro side is generated from the table into `ui/rules/accepted.rs`
//! (must compile) and `ui/rules/rejected.rs` (must fail, one error per case,
//! on the case's own line). A change of the table rewrites them; then
//! `TRYBUILD=overwrite cargo test -p xcore-tests --test main rules::`
//! refreshes `rejected.stderr`, to be reviewed like any UI test.

use std::fmt::Write;
use std::sync::Arc;

use xcore::cache::CachePolicy;
use xcore::prelude::*;
use xcore::{PluginMeta, RouteInfo, Routes};
use xcore_rules::{Invalid, cache, name, path};

use crate::common;

/// One input, in the place of the route table it goes.
#[derive(Clone, Copy)]
enum Input {
    PluginName(&'static str),
    Prefix(&'static str),
    RoutePath(&'static str),
    Role(&'static str),
    Permission(&'static str),
    /// A `#[cached(key = ...)]` on a GET route at `path`.
    CacheKey {
        path: &'static str,
        guarded: bool,
        shared: bool,
        key: &'static str,
    },
    /// `#[cached(ttl = 60, shared)]` without a key, on a public or guarded route.
    Shared {
        guarded: bool,
    },
    Ttl(u64),
}

const LONG_ROLE: &str = "a-role-name-of-sixty-five-characters-which-is-one-more-than-allow";

const TABLE: &[Input] = &[
    Input::PluginName("catalogue"),
    Input::PluginName("tableau-de-bord"),
    Input::PluginName("shop_2"),
    Input::PluginName("my shop"),
    Input::PluginName("a:b"),
    Input::PluginName("café"),
    Input::PluginName(""),
    Input::PluginName("xcore-auth"),
    Input::PluginName("XCore"),
    Input::Prefix(""),
    Input::Prefix("/shop"),
    Input::Prefix("/a/b-c"),
    Input::Prefix("shop"),
    Input::Prefix("/shop/"),
    Input::Prefix("/shop/{id}"),
    Input::Prefix("/a?b"),
    Input::Prefix("/a#b"),
    Input::Prefix("/a:b"),
    Input::Prefix("/a*"),
    Input::Prefix("/a//b"),
    Input::RoutePath("/"),
    Input::RoutePath("/items"),
    Input::RoutePath("/items/"),
    Input::RoutePath("/items/{id}"),
    Input::RoutePath("/{a}/x/{b}"),
    Input::RoutePath("/files/{*rest}"),
    Input::RoutePath("items"),
    Input::RoutePath("/items/:id"),
    Input::RoutePath("/files/*rest"),
    Input::RoutePath("/items/{id"),
    Input::RoutePath("/items/id}"),
    Input::RoutePath("/items/{id}/{id}"),
    Input::RoutePath("/items/{}"),
    Input::RoutePath("/items/{a-b}"),
    Input::RoutePath("/items/x{id}"),
    Input::RoutePath("/files/{*rest}/x"),
    Input::RoutePath("/a//b"),
    Input::RoutePath("/a?b=1"),
    Input::Role("admin"),
    Input::Role("x:y.z-1_2"),
    Input::Role(""),
    Input::Role("Admin"),
    Input::Role("two words"),
    Input::Role(LONG_ROLE),
    Input::Permission("items:delete"),
    Input::Permission("Items:Delete"),
    Input::Permission("items delete"),
    Input::Permission(""),
    Input::CacheKey {
        path: "/{id}",
        guarded: false,
        shared: false,
        key: "produit:{id}",
    },
    Input::CacheKey {
        path: "/",
        guarded: false,
        shared: false,
        key: "produits:{query.page}",
    },
    Input::CacheKey {
        path: "/",
        guarded: true,
        shared: false,
        key: "stats:{user}",
    },
    Input::CacheKey {
        path: "/",
        guarded: true,
        shared: true,
        key: "tarifs",
    },
    Input::CacheKey {
        path: "/{id}",
        guarded: false,
        shared: false,
        key: "produit:{item_id}",
    },
    Input::CacheKey {
        path: "/",
        guarded: false,
        shared: false,
        key: "produits:{user}",
    },
    Input::CacheKey {
        path: "/",
        guarded: true,
        shared: false,
        key: "stats",
    },
    Input::CacheKey {
        path: "/",
        guarded: false,
        shared: false,
        key: "produits:{",
    },
    Input::CacheKey {
        path: "/",
        guarded: false,
        shared: false,
        key: "produits:}",
    },
    Input::CacheKey {
        path: "/",
        guarded: false,
        shared: false,
        key: "{a-b}",
    },
    Input::CacheKey {
        path: "/",
        guarded: false,
        shared: false,
        key: "{query.}",
    },
    Input::Shared { guarded: true },
    Input::Shared { guarded: false },
    Input::Ttl(60),
    Input::Ttl(0),
];

impl Input {
    /// The verdict of the rules themselves.
    fn verdict(self) -> Result<(), Invalid> {
        match self {
            Input::PluginName(value) => name::plugin(value),
            Input::Prefix(value) => path::prefix(value),
            Input::RoutePath(value) => path::route(value).map(drop),
            Input::Role(value) => name::role(value),
            Input::Permission(value) => name::permission(value),
            Input::CacheKey {
                path: route,
                guarded,
                shared,
                key,
            } => {
                let segments = path::route(route)?;
                let params: Vec<&str> = path::params(&segments).collect();
                cache::fit(
                    &cache::KeyTemplate::parse(key)?,
                    route,
                    &params,
                    guarded,
                    shared,
                )
            }
            Input::Shared { guarded } => cache::shared(guarded),
            Input::Ttl(secs) => cache::ttl(secs),
        }
    }

    fn plugin_name(self) -> &'static str {
        match self {
            Input::PluginName(value) => value,
            _ => "case",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Input::Prefix(value) => value,
            _ => "/case",
        }
    }

    fn route_path(self) -> &'static str {
        match self {
            Input::RoutePath(value) | Input::CacheKey { path: value, .. } => value,
            _ => "/x",
        }
    }

    fn guarded(self) -> bool {
        matches!(
            self,
            Input::Role(_)
                | Input::Permission(_)
                | Input::CacheKey { guarded: true, .. }
                | Input::Shared { guarded: true }
        )
    }

    /// The same input, written as a plugin by hand.
    fn manual(self) -> Manual {
        let mut info = RouteInfo::get(self.route_path());
        info = match self {
            Input::Role(role) => info.guard(Guard::role(role)),
            Input::Permission(permission) => info.guard(Guard::permission(permission)),
            _ if self.guarded() => info.guard(Guard::signed_in()),
            _ => info,
        };
        info = match self {
            Input::CacheKey { key, shared, .. } => {
                let policy = CachePolicy::ttl_secs(60).key(key);
                info.cache(if shared { policy.shared() } else { policy })
            }
            Input::Shared { .. } => info.cache(CachePolicy::ttl_secs(60).shared()),
            Input::Ttl(secs) => info.cache(CachePolicy::ttl_secs(secs)),
            _ => info,
        };
        Manual {
            meta: PluginMeta::new(self.plugin_name()).prefix(self.prefix()),
            info,
        }
    }

    /// The same input, written with the attributes: the plugin's source, and
    /// the line of it (from 1) that holds the input.
    fn attributes(self, index: usize) -> (String, usize) {
        let mut route = format!("#[route(get, {:?}", self.route_path());
        match self {
            Input::Role(role) => write!(route, ", auth = {role:?}"),
            Input::Permission(permission) => write!(route, ", permission = {permission:?}"),
            _ if self.guarded() => write!(route, ", auth"),
            _ => Ok(()),
        }
        .expect("write");
        route.push_str(")]");
        let cached = match self {
            Input::CacheKey { key, shared, .. } => Some(format!(
                "#[cached(ttl = 60{}, key = {key:?})]",
                if shared { ", shared" } else { "" }
            )),
            Input::Shared { .. } => Some("#[cached(ttl = 60, shared)]".to_owned()),
            Input::Ttl(secs) => Some(format!("#[cached(ttl = {secs})]")),
            _ => None,
        };
        let line = match self {
            Input::PluginName(_) | Input::Prefix(_) => 2,
            Input::RoutePath(_) | Input::Role(_) | Input::Permission(_) => 4,
            _ => 5,
        };
        let source = format!(
            "pub struct Case{index};\n\
             #[plugin(name = {:?}, prefix = {:?})]\n\
             impl Case{index} {{\n    \
                 {route}\n    \
                 {}\n    \
                 async fn handler() -> &'static str {{\n        \"ok\"\n    }}\n\
             }}\n",
            self.plugin_name(),
            self.prefix(),
            cached.unwrap_or_default(),
        );
        (source, line)
    }
}

struct Manual {
    meta: PluginMeta,
    info: RouteInfo,
}

impl Plugin for Manual {
    fn meta(&self) -> PluginMeta {
        self.meta.clone()
    }

    fn routes(self: Arc<Self>) -> Routes {
        Routes::new().route(self.info.clone(), || async { "ok" })
    }
}

/// The two generated files: accepted inputs and rejected ones, with the
/// line of each rejected input.
fn generate() -> (String, String, Vec<(Input, usize)>) {
    const HEADER: &str = "// Generated by tests/tests/rules.rs from its table: do not edit.\n\
                          #![allow(dead_code)]\n\
                          use xcore::prelude::*;\n";
    let mut accepted = HEADER.to_owned();
    let mut rejected = HEADER.to_owned();
    let mut lines = Vec::new();
    for (index, input) in TABLE.iter().enumerate() {
        let file = if input.verdict().is_ok() {
            &mut accepted
        } else {
            &mut rejected
        };
        file.push('\n');
        let (source, line) = input.attributes(index);
        if input.verdict().is_err() {
            // The blank line just pushed is the one before the source.
            lines.push((*input, file.lines().count() + line));
        }
        file.push_str(&source);
    }
    accepted.push_str("\nfn main() {}\n");
    rejected.push_str("\nfn main() {}\n");
    (accepted, rejected, lines)
}

/// Writes `content` to `path` unless it is already there.
fn write_if_changed(path: &std::path::Path, content: &str) {
    if std::fs::read_to_string(path).ok().as_deref() != Some(content) {
        std::fs::create_dir_all(path.parent().expect("folder")).expect("create ui/rules");
        std::fs::write(path, content).expect("write a generated UI test");
    }
}

#[tokio::test]
async fn the_runtime_refuses_a_hand_written_plugin_for_exactly_what_the_rules_refuse() {
    let results = futures_join(TABLE.iter().map(|input| {
        let input = *input;
        async move {
            let app = App::new(common::config())
                .expect("app")
                .plugin(input.manual());
            (input, app.into_router().await)
        }
    }))
    .await;
    for (input, result) in results {
        let (source, _) = input.attributes(0);
        match (input.verdict(), result) {
            (Ok(()), Ok(_)) => {}
            (Err(invalid), Err(Error::Setup(message))) => assert!(
                message.contains(invalid.message()),
                "the runtime refused\n{source}\nsaying `{message}`, not `{invalid}`"
            ),
            (Ok(()), Err(err)) => panic!("the runtime refused\n{source}\nthe rules accept: {err}"),
            (Err(invalid), Ok(_)) => {
                panic!("the runtime accepted\n{source}\nthe rules refuse: {invalid}")
            }
            (Err(_), Err(other)) => panic!("unexpected error for\n{source}\n{other}"),
        }
    }
}

#[test]
fn the_macros_refuse_exactly_what_the_rules_refuse() {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/rules");
    let (accepted, rejected, lines) = generate();
    write_if_changed(&folder.join("accepted.rs"), &accepted);
    write_if_changed(&folder.join("rejected.rs"), &rejected);
    let cases = trybuild::TestCases::new();
    cases.pass("ui/rules/accepted.rs");
    cases.compile_fail("ui/rules/rejected.rs");
    drop(cases); // runs them: panics on any difference

    // Each rejected input has one error, on its own line, with the message
    // of the rule.
    let stderr = std::fs::read_to_string(folder.join("rejected.stderr")).expect("stderr");
    let errors: Vec<(usize, &str)> = stderr
        .split("\nerror: ")
        .map(|block| block.trim_start_matches("error: "))
        .map(|block| {
            let at = block.find("rejected.rs:").expect("a location") + "rejected.rs:".len();
            let line = block[at..]
                .split(':')
                .next()
                .and_then(|n| n.parse().ok())
                .expect("a line number");
            (line, block)
        })
        .collect();
    assert_eq!(errors.len(), lines.len(), "one error per rejected input");
    for (input, line) in lines {
        let invalid = input.verdict().expect_err("rejected");
        let first = invalid.message().lines().next().unwrap_or_default();
        assert!(
            errors
                .iter()
                .any(|(at, block)| *at == line && block.starts_with(first)),
            "no error `{first}` on line {line} of ui/rules/rejected.rs"
        );
    }
}

async fn futures_join<F: Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.expect("task"));
    }
    out
}
