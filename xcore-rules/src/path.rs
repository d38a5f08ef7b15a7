//! Route paths (axum 0.8 syntax) and plugin prefixes.

use crate::Invalid;

/// One segment of a route path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Literal text.
    Static(String),
    /// `{name}`.
    Param(String),
    /// `{*name}`, the rest of the path.
    CatchAll(String),
}

impl Segment {
    /// The parameter's name, for `{name}` and `{*name}`.
    pub fn param(&self) -> Option<&str> {
        match self {
            Segment::Param(name) | Segment::CatchAll(name) => Some(name),
            Segment::Static(_) => None,
        }
    }
}

/// Checks a route path (relative to its plugin's prefix) and returns its
/// segments: it starts with `/`, parameters are whole segments written
/// `{name}` (or `{*name}`, last), each name appears once, and there is no
/// empty segment, query string or fragment.
///
/// ```
/// use xcore_rules::path::{Segment, route};
///
/// assert_eq!(route("/{id}").unwrap(), [Segment::Param("id".into())]);
/// assert!(route("/a//b").is_err());
/// ```
pub fn route(path: &str) -> Result<Vec<Segment>, Invalid> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(Invalid::new(format!(
            "route path must start with `/`: write \"/{path}\""
        )));
    };
    if path.contains(['?', '#']) {
        return Err(Invalid::new(
            "route path must not contain a query string or fragment",
        ));
    }
    let raw: Vec<&str> = rest.split('/').collect();
    let last = raw.len() - 1;
    let mut segments = Vec::with_capacity(raw.len());
    for (index, segment) in raw.iter().enumerate() {
        if segment.is_empty() && index != last {
            return Err(Invalid::new(
                "route path must not contain an empty segment (`//`)",
            ));
        }
        if let Some(name) = segment.strip_prefix(':') {
            return Err(Invalid::new(format!(
                "axum 0.8 writes path parameters in braces: use `{{{name}}}` instead of `:{name}` (the old `:param` syntax)"
            )));
        }
        if let Some(name) = segment.strip_prefix('*') {
            return Err(Invalid::new(format!(
                "axum 0.8 writes wildcards in braces: use `{{*{name}}}` instead of `*{name}`"
            )));
        }
        let opens = segment.matches('{').count();
        let closes = segment.matches('}').count();
        if opens == 0 && closes == 0 {
            segments.push(Segment::Static((*segment).to_owned()));
            continue;
        }
        if opens != closes {
            return Err(Invalid::new(format!(
                "unbalanced braces in path segment `{segment}`"
            )));
        }
        let inner = match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(inner) if opens == 1 => inner,
            _ => {
                return Err(Invalid::new(format!(
                    "a path parameter must be a whole segment, like `/{{id}}`; found `{segment}`"
                )));
            }
        };
        let (catch_all, name) = match inner.strip_prefix('*') {
            Some(name) => (true, name),
            None => (false, inner),
        };
        if !is_identifier(name) {
            return Err(Invalid::new(format!(
                "path parameter `{{{inner}}}` needs a name made of letters, digits and `_`"
            )));
        }
        if segments.iter().any(|s| s.param() == Some(name)) {
            return Err(Invalid::new(format!(
                "path parameter `{name}` appears twice"
            )));
        }
        if catch_all {
            if index != last {
                return Err(Invalid::new(format!(
                    "the wildcard `{{*{name}}}` must be the last segment"
                )));
            }
            segments.push(Segment::CatchAll(name.to_owned()));
        } else {
            segments.push(Segment::Param(name.to_owned()));
        }
    }
    Ok(segments)
}

/// The names of a path's parameters, in order.
pub fn params(segments: &[Segment]) -> impl Iterator<Item = &str> {
    segments.iter().filter_map(Segment::param)
}

/// Whether two paths would collide in the router although they are written
/// differently: same shape, parameters at the same places, but with other
/// names (axum refuses `/{id}` next to `/{name}`).
pub fn conflict(a: &[Segment], b: &[Segment]) -> bool {
    a.len() == b.len()
        && a != b
        && a.iter().zip(b).all(|pair| match pair {
            (Segment::Static(x), Segment::Static(y)) => x == y,
            (Segment::Param(_), Segment::Param(_)) => true,
            (Segment::CatchAll(_), Segment::CatchAll(_)) => true,
            _ => false,
        })
}

/// Checks a plugin prefix: empty (routes at the root), or a plain path that
/// starts with `/`, does not end with one, and holds no parameter,
/// wildcard, query or empty segment.
///
/// ```
/// use xcore_rules::path::prefix;
///
/// assert!(prefix("").is_ok());
/// assert!(prefix("/tableau-de-bord").is_ok());
/// assert!(prefix("/shop/").is_err());
/// ```
pub fn prefix(prefix: &str) -> Result<(), Invalid> {
    if prefix.is_empty() {
        return Ok(());
    }
    if !prefix.starts_with('/') {
        Err(Invalid::new(format!(
            "the prefix must start with `/`: write \"/{prefix}\""
        )))
    } else if prefix.ends_with('/') {
        Err(Invalid::new(format!(
            "the prefix must not end with `/`: write \"{}\"",
            prefix.trim_end_matches('/')
        )))
    } else if prefix.contains(['{', '}', '?', '#', ':', '*']) {
        Err(Invalid::new(
            "the prefix is a plain path: no parameters, wildcards or query",
        ))
    } else if prefix.contains("//") {
        Err(Invalid::new(
            "the prefix must not contain an empty segment (`//`)",
        ))
    } else {
        Ok(())
    }
}

/// The full path of a route: its plugin's prefix, then its own path.
///
/// ```
/// assert_eq!(xcore_rules::path::join("/items", "/{id}"), "/items/{id}");
/// assert_eq!(xcore_rules::path::join("", "/health"), "/health");
/// ```
pub fn join(prefix: &str, path: &str) -> String {
    let mut full = String::with_capacity(prefix.len() + path.len());
    full.push_str(prefix);
    full.push_str(path);
    full
}

/// Letters, digits and `_`, at least one: a parameter or placeholder name.
pub(crate) fn is_identifier(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_axum_08_paths() {
        for ok in [
            "/",
            "/items",
            "/items/",
            "/items/{id}",
            "/{a}/x/{b}",
            "/files/{*rest}",
        ] {
            assert!(route(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_with_a_reason() {
        let cases = [
            ("items", "must start with `/`"),
            ("/items/:id", "use `{id}` instead of `:id`"),
            ("/files/*rest", "use `{*rest}`"),
            ("/items/{id", "unbalanced braces"),
            ("/items/id}", "unbalanced braces"),
            ("/items/{id}/{id}", "appears twice"),
            ("/items/{}", "needs a name"),
            ("/items/{a-b}", "needs a name"),
            ("/items/x{id}", "whole segment"),
            ("/files/{*rest}/x", "must be the last segment"),
            ("/a//b", "empty segment"),
            ("/a?b=1", "query string"),
        ];
        for (path, expected) in cases {
            let message = route(path).expect_err(path).to_string();
            assert!(message.contains(expected), "{path}: {message}");
        }
    }

    #[test]
    fn parameters_with_other_names_conflict() {
        let a = route("/{id}").expect("ok");
        let b = route("/{name}").expect("ok");
        let c = route("/{id}/x").expect("ok");
        assert!(conflict(&a, &b));
        assert!(!conflict(&a, &a));
        assert!(!conflict(&a, &c));
    }

    #[test]
    fn prefixes() {
        for ok in ["", "/a", "/a/b", "/tableau-de-bord"] {
            assert!(prefix(ok).is_ok(), "{ok}");
        }
        for bad in ["a", "/a/", "/{id}", "/a?b", "/a#b", "/a:b", "/a*", "/a//b"] {
            assert!(prefix(bad).is_err(), "{bad}");
        }
    }
}
