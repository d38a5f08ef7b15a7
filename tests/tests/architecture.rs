//! `ARCHITECTURE.md` checked against the code (ArchUnit's habit): the
//! floors of the runtime's top-level modules, the pairs allowed to import
//! each other and the "never imports" rules are parsed from the document
//! itself, and every `crate::…` path in `xcore/src` is held to them. The
//! document and the code cannot drift apart: a failure names the file and
//! line of the import, or the line of the document that no longer holds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// What `ARCHITECTURE.md` says of the runtime's modules.
#[derive(Debug, Default)]
struct Rules {
    /// Module → floor, from the table under "The runtime, bottom up".
    floors: BTreeMap<String, u32>,
    /// Pairs allowed to import each other (written `a` ⇄ `b`).
    mutual: BTreeSet<(String, String)>,
    /// "`a` never imports `b`, `c`": a → {b, c}.
    never: BTreeMap<String, BTreeSet<String>>,
}

/// One `crate::<module>` a file names.
#[derive(Debug)]
struct Import {
    file: PathBuf,
    line: usize,
    from: String,
    to: String,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The backticked words of `text`, in order.
fn ticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn parse_rules(document: &str) -> Rules {
    let mut rules = Rules::default();
    let mut section = "";
    // A bullet and its continuation lines, as one text.
    let mut bullets: Vec<String> = Vec::new();
    for line in document.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            section = heading.trim();
            continue;
        }
        if section != "The runtime, bottom up" {
            continue;
        }
        // | 2 | `db`, `cache` | concern |
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() >= 4
            && let Ok(floor) = cells[1].parse::<u32>()
        {
            for module in ticked(cells[2]) {
                let previous = rules.floors.insert(module.clone(), floor);
                assert!(previous.is_none(), "`{module}` is on two floors");
            }
        } else if let Some(bullet) = line.strip_prefix("- ") {
            bullets.push(bullet.to_owned());
        } else if let (Some(text), Some(bullet)) = (line.strip_prefix("  "), bullets.last_mut()) {
            bullet.push(' ');
            bullet.push_str(text.trim());
        }
    }
    for bullet in &bullets {
        if let Some((_, pairs)) = bullet.split_once("with one exception:") {
            // `plugin` ⇄ `openapi`. Why.
            let pairs = pairs.split(". ").next().unwrap_or(pairs);
            for pair in pairs.split(',') {
                if let [a, b] = ticked(pair).as_slice()
                    && pair.contains('⇄')
                {
                    rules.mutual.insert(ordered(a, b));
                }
            }
        } else if let Some((subject, objects)) = bullet.split_once(" never import") {
            // "`accounts` never imports `web`, `builtin` or `app`; why."
            // "`db` and `cache` never import `web`."
            let subjects = ticked(subject);
            let objects = ticked(objects.split([';', '.']).next().unwrap_or(objects));
            for subject in subjects {
                rules
                    .never
                    .entry(subject)
                    .or_default()
                    .extend(objects.iter().cloned());
            }
        }
    }
    assert!(
        rules.floors.len() > 10,
        "ARCHITECTURE.md: the floor table was not found under \"The runtime, bottom up\""
    );
    assert!(
        !rules.mutual.is_empty(),
        "ARCHITECTURE.md: the allowed mutual imports (\"with one exception: `a` ⇄ `b`\") were not found"
    );
    rules
}

fn ordered(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_owned(), b.to_owned())
    } else {
        (b.to_owned(), a.to_owned())
    }
}

/// Collects the first segment after `crate` of every path, with its line.
struct Paths {
    found: Vec<(usize, String)>,
}

impl Paths {
    fn segments(&mut self, path: &syn::Path) {
        let mut segments = path.segments.iter();
        if let (Some(first), Some(second)) = (segments.next(), segments.next())
            && first.ident == "crate"
        {
            self.found
                .push((first.ident.span().start().line, second.ident.to_string()));
        }
    }

    /// `use crate::{a::X, b}`: each module under `crate`.
    fn tree(&mut self, tree: &syn::UseTree, under_crate: bool) {
        match tree {
            syn::UseTree::Path(path) if path.ident == "crate" => self.tree(&path.tree, true),
            syn::UseTree::Path(path) if under_crate => self.name(&path.ident),
            syn::UseTree::Name(name) if under_crate => self.name(&name.ident),
            syn::UseTree::Rename(rename) if under_crate => self.name(&rename.ident),
            syn::UseTree::Group(group) => {
                for item in &group.items {
                    self.tree(item, under_crate);
                }
            }
            _ => {}
        }
    }

    fn name(&mut self, ident: &syn::Ident) {
        self.found
            .push((ident.span().start().line, ident.to_string()));
    }
}

/// `#[cfg(test)]`: a unit test may use helpers from above its floor
/// (`testing`), as test code is no part of what the module depends on.
fn test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .parse_args::<syn::Ident>()
                .is_ok_and(|ident| ident == "test")
    })
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Mod(item) => &item.attrs,
            syn::Item::Fn(item) => &item.attrs,
            syn::Item::Impl(item) => &item.attrs,
            syn::Item::Use(item) => &item.attrs,
            syn::Item::Struct(item) => &item.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        if !test_only(attrs) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        self.segments(path);
        syn::visit::visit_path(self, path);
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.tree(&item.tree, false);
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read xcore/src")
        .map(|entry| entry.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`web/guard/layer.rs` → `web`),
/// `None` for the crate root.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).expect("under src");
    let first = relative.components().next()?.as_os_str().to_str()?;
    match first.strip_suffix(".rs") {
        Some("lib") => None,
        Some(stem) => Some(stem.to_owned()),
        None => Some(first.to_owned()),
    }
}

fn imports(src: &Path) -> (BTreeSet<String>, Vec<Import>) {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut modules = BTreeSet::new();
    let mut imports = Vec::new();
    for file in files {
        let Some(from) = module_of(src, &file) else {
            continue;
        };
        modules.insert(from.clone());
        let text = std::fs::read_to_string(&file).expect("read source");
        let parsed = syn::parse_file(&text)
            .unwrap_or_else(|err| panic!("{}: does not parse: {err}", file.display()));
        let mut paths = Paths { found: Vec::new() };
        paths.visit_file(&parsed);
        for (line, to) in paths.found {
            if to != from {
                imports.push(Import {
                    file: file.clone(),
                    line,
                    from: from.clone(),
                    to,
                });
            }
        }
    }
    (modules, imports)
}

/// Every way `imports` breaks `rules`, one line each.
fn violations(rules: &Rules, modules: &BTreeSet<String>, imports: &[Import]) -> Vec<String> {
    let mut problems = Vec::new();
    let root = root();
    for module in modules {
        if !rules.floors.contains_key(module) {
            problems.push(format!(
                "xcore/src/{module}: not on any floor of ARCHITECTURE.md's table"
            ));
        }
    }
    for module in rules.floors.keys() {
        if !modules.contains(module) {
            problems.push(format!(
                "ARCHITECTURE.md: `{module}` is in the floor table but not in xcore/src"
            ));
        }
    }
    let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for import in imports {
        let at = format!(
            "{}:{}",
            import
                .file
                .strip_prefix(&root)
                .unwrap_or(&import.file)
                .display(),
            import.line
        );
        let (Some(from), Some(to)) = (rules.floors.get(&import.from), rules.floors.get(&import.to))
        else {
            if modules.contains(&import.to) {
                continue; // reported above
            }
            problems.push(format!(
                "{at}: `crate::{}` is not a module of xcore/src (name the module, not a re-export)",
                import.to
            ));
            continue;
        };
        if to > from {
            problems.push(format!(
                "{at}: `{}` (floor {from}) imports `{}` (floor {to}), a floor above it",
                import.from, import.to
            ));
        }
        if rules
            .never
            .get(&import.from)
            .is_some_and(|never| never.contains(&import.to))
        {
            problems.push(format!(
                "{at}: `{}` imports `{}`, which ARCHITECTURE.md says it never does",
                import.from, import.to
            ));
        }
        edges
            .entry(import.from.as_str())
            .or_default()
            .insert(import.to.as_str());
    }
    for (a, targets) in &edges {
        for b in targets {
            let back = edges.get(b).is_some_and(|t| t.contains(a));
            if back && a < b && !rules.mutual.contains(&ordered(a, b)) {
                problems.push(format!(
                    "`{a}` and `{b}` import each other; ARCHITECTURE.md allows only {:?}",
                    rules.mutual
                ));
            }
        }
    }
    problems.extend(circles(&edges, rules));
    problems
}

/// Circles of three or more modules (two are reported as mutual imports):
/// with the floors kept they cannot form, but a floor shared by many
/// modules could hide one.
fn circles(edges: &BTreeMap<&str, BTreeSet<&str>>, rules: &Rules) -> Vec<String> {
    let reaches = |from: &str, to: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from];
        while let Some(node) = stack.pop() {
            if node == to {
                return true;
            }
            if seen.insert(node) {
                stack.extend(edges.get(node).into_iter().flatten().copied());
            }
        }
        false
    };
    let mut problems = Vec::new();
    for (a, targets) in edges {
        for b in targets {
            let allowed = rules.mutual.contains(&ordered(a, b));
            if !allowed && !edges.get(b).is_some_and(|t| t.contains(a)) && reaches(b, a) {
                problems.push(format!(
                    "`{a}` imports `{b}`, and `{b}` leads back to `{a}`: a circle"
                ));
            }
        }
    }
    problems
}

#[test]
fn every_module_imports_only_its_own_floor_or_below() {
    let root = root();
    let document =
        std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("read ARCHITECTURE.md");
    let rules = parse_rules(&document);
    let (modules, imports) = imports(&root.join("xcore/src"));
    assert!(
        imports.len() > 100,
        "only {} imports found: the scan is broken",
        imports.len()
    );
    let problems = violations(&rules, &modules, &imports);
    assert!(
        problems.is_empty(),
        "ARCHITECTURE.md does not hold:\n{}",
        problems.join("\n")
    );
}

/// The check itself: an upward import, a pair importing each other, a
/// forbidden import and a circle are each reported, naming where.
#[test]
fn the_floor_check_reports_what_breaks_the_document() {
    let rules = parse_rules(
        "## The runtime, bottom up\n\
         | floor | modules | concern |\n\
         |---|---|---|\n\
         | 0 | `error` | e |\n| 1 | `config`, `security` | c |\n| 2 | `cache`, `db`, `mail` | s |\n\
         | 3 | `accounts` | a |\n| 4 | `web` | w |\n| 5 | `plugin`, `openapi` | p |\n\
         | 6 | `app` | a |\n| 7 | `testing` | t |\n| 8 | `prelude` | p |\n| 9 | `private` | p |\n\
         - No two import each other, with one exception: `plugin` ⇄ `openapi`.\n\
         - `accounts` never imports `mail`; a reason.\n",
    );
    let modules: BTreeSet<String> = rules.floors.keys().cloned().collect();
    let import = |from: &str, to: &str, line: usize| Import {
        file: root().join(format!("xcore/src/{from}.rs")),
        line,
        from: from.to_owned(),
        to: to.to_owned(),
    };
    let fine = [
        import("web", "accounts", 1),
        import("plugin", "openapi", 2),
        import("openapi", "plugin", 3),
    ];
    assert_eq!(violations(&rules, &modules, &fine), Vec::<String>::new());
    let upward = violations(&rules, &modules, &[import("cache", "web", 28)]);
    assert_eq!(
        upward,
        ["xcore/src/cache.rs:28: `cache` (floor 2) imports `web` (floor 4), a floor above it"]
    );
    let mutual = violations(
        &rules,
        &modules,
        &[import("cache", "db", 1), import("db", "cache", 2)],
    );
    assert!(
        mutual[0].contains("`cache` and `db` import each other"),
        "{mutual:?}"
    );
    let circle = violations(
        &rules,
        &modules,
        &[
            import("cache", "db", 1),
            import("db", "mail", 2),
            import("mail", "cache", 3),
        ],
    );
    assert!(circle.iter().any(|p| p.contains("a circle")), "{circle:?}");
    let never = violations(&rules, &modules, &[import("accounts", "mail", 9)]);
    assert_eq!(
        never,
        [
            "xcore/src/accounts.rs:9: `accounts` imports `mail`, which ARCHITECTURE.md says it never does"
        ]
    );
    let unknown = violations(&rules, &modules, &[import("web", "guard", 4)]);
    assert!(
        unknown[0].contains("`crate::guard` is not a module"),
        "{unknown:?}"
    );
}
