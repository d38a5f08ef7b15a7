//! Validation of route paths against axum 0.8's syntax, at compile time,
//! so a bad path is a spanned error instead of a panic at start-up.

/// One parsed segment kind, enough to compare two paths for conflicts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Static(String),
    Param(String),
    CatchAll(String),
}

/// Checks `path` and returns its segments, or a message saying what is wrong.
pub(crate) fn parse(path: &str) -> Result<Vec<Segment>, String> {
    if !path.starts_with('/') {
        return Err(format!("route path must start with `/`: write \"/{path}\""));
    }
    if path.contains(['?', '#']) {
        return Err("route path must not contain a query string or fragment".into());
    }
    let raw: Vec<&str> = path[1..].split('/').collect();
    let mut segments = Vec::with_capacity(raw.len());
    let last = raw.len() - 1;
    for (index, segment) in raw.iter().enumerate() {
        if segment.is_empty() && index != last {
            return Err("route path must not contain an empty segment (`//`)".into());
        }
        if let Some(name) = segment.strip_prefix(':') {
            return Err(format!(
                "axum 0.8 writes path parameters in braces: use `{{{name}}}` instead of `:{name}`"
            ));
        }
        if let Some(name) = segment.strip_prefix('*') {
            return Err(format!(
                "axum 0.8 writes wildcards in braces: use `{{*{name}}}` instead of `*{name}`"
            ));
        }
        let opens = segment.matches('{').count();
        let closes = segment.matches('}').count();
        if opens == 0 && closes == 0 {
            segments.push(Segment::Static((*segment).to_owned()));
            continue;
        }
        if opens != closes {
            return Err(format!("unbalanced braces in path segment `{segment}`"));
        }
        let inner = match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(inner) if opens == 1 => inner,
            _ => {
                return Err(format!(
                    "a path parameter must be a whole segment, like `/{{id}}`; found `{segment}`"
                ));
            }
        };
        let (catch_all, name) = match inner.strip_prefix('*') {
            Some(name) => (true, name),
            None => (false, inner),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "path parameter `{{{inner}}}` needs a name made of letters, digits and `_`"
            ));
        }
        if segments
            .iter()
            .any(|s| matches!(s, Segment::Param(n) | Segment::CatchAll(n) if n == name))
        {
            return Err(format!("path parameter `{name}` appears twice"));
        }
        if catch_all {
            if index != last {
                return Err(format!(
                    "the wildcard `{{*{name}}}` must be the last segment"
                ));
            }
            segments.push(Segment::CatchAll(name.to_owned()));
        } else {
            segments.push(Segment::Param(name.to_owned()));
        }
    }
    Ok(segments)
}

/// Whether two parsed paths would collide in the router although they are
/// written differently: same shape, parameters at the same places, but with
/// other names (axum refuses `/{id}` next to `/{name}`).
pub(crate) fn conflict(a: &[Segment], b: &[Segment]) -> bool {
    a.len() == b.len()
        && a != b
        && a.iter().zip(b).all(|pair| match pair {
            (Segment::Static(x), Segment::Static(y)) => x == y,
            (Segment::Param(_), Segment::Param(_)) => true,
            (Segment::CatchAll(_), Segment::CatchAll(_)) => true,
            _ => false,
        })
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
            assert!(parse(ok).is_ok(), "{ok}");
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
            let message = parse(path).expect_err(path);
            assert!(message.contains(expected), "{path}: {message}");
        }
    }

    #[test]
    fn parameters_with_other_names_conflict() {
        let a = parse("/{id}").expect("ok");
        let b = parse("/{name}").expect("ok");
        let c = parse("/{id}/x").expect("ok");
        assert!(conflict(&a, &b));
        assert!(!conflict(&a, &a));
        assert!(!conflict(&a, &c));
    }
}
