//! Cached routes: the key template and how it must fit its route.

use crate::Invalid;
use crate::path::is_identifier;

/// One piece of a key template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text copied as is.
    Literal(String),
    /// `{name}`: a path parameter.
    Path(String),
    /// `{query.name}`: a query parameter.
    Query(String),
    /// `{user}`: the signed-in user's id.
    User,
}

/// A cache-key template: literal text with `{param}` (a path parameter),
/// `{query.name}` (a query parameter) and `{user}` (the user's id).
///
/// ```
/// use xcore_rules::cache::{KeyTemplate, Part};
///
/// let template = KeyTemplate::parse("stats:{user}:{query.day}").unwrap();
/// assert!(template.uses_user());
/// assert_eq!(template.parts()[3], Part::Query("day".into()));
/// assert!(KeyTemplate::parse("produits:{").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTemplate {
    parts: Vec<Part>,
}

impl KeyTemplate {
    /// Parses `template`, or says what is wrong with it.
    pub fn parse(template: &str) -> Result<Self, Invalid> {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find(['{', '}']) {
            if rest.as_bytes()[open] == b'}' {
                return Err(Invalid::new(format!(
                    "unmatched `}}` in the cache key \"{template}\""
                )));
            }
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_owned()));
            }
            let after = &rest[open + 1..];
            let close = after.find('}').ok_or_else(|| {
                Invalid::new(format!("unclosed `{{` in the cache key \"{template}\""))
            })?;
            let name = &after[..close];
            parts.push(match name.strip_prefix("query.") {
                _ if name == "user" => Part::User,
                Some(query) if is_identifier(query) => Part::Query(query.to_owned()),
                None if is_identifier(name) => Part::Path(name.to_owned()),
                _ => {
                    return Err(Invalid::new(format!(
                        "`{{{name}}}` is not a placeholder: use `{{param}}`, `{{query.name}}` or `{{user}}`"
                    )));
                }
            });
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Ok(KeyTemplate { parts })
    }

    /// The pieces, in order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// Whether the key includes the user's id.
    pub fn uses_user(&self) -> bool {
        self.parts.contains(&Part::User)
    }

    /// Whether the key reads query parameters.
    pub fn uses_query(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Query(_)))
    }

    /// The path parameters the key reads.
    pub fn path_params(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Path(name) => Some(name.as_str()),
            _ => None,
        })
    }
}

/// A cache lifetime, in seconds, is at least one.
pub fn ttl(secs: u64) -> Result<(), Invalid> {
    if secs == 0 {
        Err(Invalid::new(
            "the TTL is in seconds and must be at least 1 second",
        ))
    } else {
        Ok(())
    }
}

/// Only `GET` routes are cached (`method` as HTTP writes it, `"POST"`).
pub fn method(method: &str) -> Result<(), Invalid> {
    if method == "GET" {
        Ok(())
    } else {
        Err(Invalid::new(format!(
            "only GET routes can be cached: a {method} changes state, so replaying a stored answer would skip it"
        )))
    }
}

/// `shared` (one entry for every user) only means something on a guarded
/// route.
pub fn shared(guarded: bool) -> Result<(), Invalid> {
    if guarded {
        Ok(())
    } else {
        Err(Invalid::new(
            "`shared` only applies to guarded routes; a public route's entry is already shared by everyone",
        ))
    }
}

/// Checks that `template` fits the route at `path` (with these parameter
/// names): each `{param}` is one of them; `{user}` needs a guard; and on a
/// guarded route that is not `shared` the key holds `{user}`, or one user's
/// answer would be served to another.
///
/// ```
/// use xcore_rules::cache::{KeyTemplate, fit};
///
/// let key = KeyTemplate::parse("produit:{id}").unwrap();
/// assert!(fit(&key, "/{id}", &["id"], false, false).is_ok());
/// assert!(fit(&key, "/{id}", &["id"], true, false).is_err());
/// ```
pub fn fit(
    template: &KeyTemplate,
    path: &str,
    params: &[&str],
    guarded: bool,
    shared: bool,
) -> Result<(), Invalid> {
    placeholders_fit(template, path, params, guarded)?;
    if guarded && !template.uses_user() && !shared {
        return Err(Invalid::new(
            "this route is guarded, so its answer may differ from one user to the next: \
             with this key, one user's answer would be served to another.\n\
             help: add `{user}` to the key for one entry per user, or write `shared` \
             if every user gets the same answer",
        ));
    }
    Ok(())
}

/// Parses a tag template (`"livres"`, `"prets:{user}"`): placeholders as in
/// keys, and never empty, since an empty tag would name nothing a write
/// could make stale.
///
/// ```
/// use xcore_rules::cache::tag;
///
/// assert!(tag("prets:{user}").is_ok());
/// assert!(tag("").unwrap_err().message().contains("empty"));
/// assert!(tag("prets:{utilisateur-id}").is_err());
/// ```
pub fn tag(raw: &str) -> Result<KeyTemplate, Invalid> {
    if raw.trim().is_empty() {
        return Err(Invalid::new(
            "a tag cannot be empty: name what the entries depend on, e.g. \"produits\" or \"prets:{user}\"",
        ));
    }
    KeyTemplate::parse(raw)
        .map_err(|invalid| Invalid::new(invalid.message().replace("the cache key", "the tag")))
}

/// Checks that a tag template fits the route at `path`: each `{param}` is
/// one of its parameters, and `{user}` needs a guard.
///
/// ```
/// use xcore_rules::cache::{tag, tag_fits};
///
/// let livre = tag("livre:{id}").unwrap();
/// assert!(tag_fits(&livre, "/{id}", &["id"], false).is_ok());
/// assert!(tag_fits(&livre, "/", &[], false).is_err());
/// ```
pub fn tag_fits(
    template: &KeyTemplate,
    path: &str,
    params: &[&str],
    guarded: bool,
) -> Result<(), Invalid> {
    placeholders_fit(template, path, params, guarded)
}

/// Each `{param}` of `template` is a parameter of the path; `{user}` needs
/// a guard.
fn placeholders_fit(
    template: &KeyTemplate,
    path: &str,
    params: &[&str],
    guarded: bool,
) -> Result<(), Invalid> {
    for name in template.path_params() {
        if !params.contains(&name) {
            let available = if params.is_empty() {
                "the path has no parameters".to_owned()
            } else {
                format!("the path's parameters are {}", params.join(", "))
            };
            return Err(Invalid::new(format!(
                "`{{{name}}}` is not a parameter of the path \"{path}\" ({available}); \
                 query parameters are written `{{query.{name}}}`"
            )));
        }
    }
    if template.uses_user() && !guarded {
        return Err(Invalid::new(
            "`{user}` needs a signed-in user, but this route has no guard (`auth`)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_or_explain() {
        let template = KeyTemplate::parse("p:{id}:{query.page}:{user}").expect("valid");
        assert_eq!(template.path_params().collect::<Vec<_>>(), ["id"]);
        assert!(template.uses_query() && template.uses_user());
        for bad in ["a{", "a}", "{}", "{a-b}", "{query.}", "{query.a.b}"] {
            assert!(KeyTemplate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_must_fit_the_route() {
        let key = |k: &str| KeyTemplate::parse(k).expect("valid");
        assert!(
            fit(&key("x:{id}"), "/{name}", &["name"], false, false)
                .expect_err("refused")
                .message()
                .contains("not a parameter")
        );
        assert!(
            fit(&key("x:{user}"), "/", &[], false, false)
                .expect_err("refused")
                .message()
                .contains("no guard")
        );
        assert!(
            fit(&key("x"), "/", &[], true, false)
                .expect_err("refused")
                .message()
                .contains("add `{user}`")
        );
        assert!(fit(&key("x"), "/", &[], true, true).is_ok());
        assert!(fit(&key("x:{id}:{user}"), "/{id}", &["id"], true, false).is_ok());
    }
}
