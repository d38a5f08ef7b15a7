//! `#[cached]` checked against its route: method, guard and key template.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Attribute, GenericArgument, LitStr, PathArguments, Type};

use super::parse;
use crate::diagnostics::Errors;
use crate::route::Route;
use crate::route::parse::HttpMethod;
use crate::route::path::Segment;

/// A validated cache declaration.
pub(crate) struct CacheSpec {
    pub ttl_secs: u64,
    pub shared: bool,
    pub key: Option<LitStr>,
}

/// Validates `#[cached]` on `route`.
pub(crate) fn build(attr: &Attribute, route: &Route, errors: &mut Errors) -> Option<CacheSpec> {
    let args = parse::parse(attr, errors)?;
    let mut ok = true;
    if route.method != HttpMethod::Get {
        errors.error(
            args.span,
            format!(
                "only GET routes can be cached: a {} changes state, so replaying a stored answer would skip it",
                route.method.as_str()
            ),
        );
        ok = false;
    }
    let guarded = route.guard.signed_in;
    if !guarded && let Some(ty) = route.handler.args.iter().find(|ty| reads_user(ty)) {
        errors.error(
            ty.span(),
            "this handler reads the signed-in user, but the route has no guard: one cached answer \
             would be served to everyone, even without a token.\n\
             help: add `auth` to the `#[route]` (entries are then kept per user), or do not cache this route",
        );
        ok = false;
    }
    if let Some(key) = &args.key {
        match placeholders(&key.value()) {
            Err(message) => {
                errors.error(key.span(), message);
                ok = false;
            }
            Ok(names) => {
                let params: Vec<&str> = route
                    .segments
                    .iter()
                    .filter_map(|s| match s {
                        Segment::Param(n) | Segment::CatchAll(n) => Some(n.as_str()),
                        Segment::Static(_) => None,
                    })
                    .collect();
                let mut uses_user = false;
                for name in &names {
                    if name == "user" {
                        uses_user = true;
                    } else if !name.starts_with("query.") && !params.contains(&name.as_str()) {
                        let available = if params.is_empty() {
                            "the path has no parameters".to_owned()
                        } else {
                            format!("the path's parameters are {}", params.join(", "))
                        };
                        errors.error(
                            key.span(),
                            format!(
                                "`{{{name}}}` is not a parameter of the path \"{}\" ({available}); \
                                 query parameters are written `{{query.{name}}}`",
                                route.path.value()
                            ),
                        );
                        ok = false;
                    }
                }
                if uses_user && !guarded {
                    errors.error(
                        key.span(),
                        "`{user}` needs a signed-in user, but this route has no guard (`auth`)",
                    );
                    ok = false;
                }
                if guarded && !uses_user && args.shared.is_none() {
                    errors.error(
                        key.span(),
                        "this route is guarded, so its answer may differ from one user to the next: \
                         with this key, one user's answer would be served to another.\n\
                         help: add `{user}` to the key for one entry per user, or write `shared` \
                         if every user gets the same answer",
                    );
                    ok = false;
                }
            }
        }
    }
    if let Some(span) = args.shared
        && !guarded
    {
        shared_on_public_route(errors, span);
        ok = false;
    }
    ok.then(|| CacheSpec {
        ttl_secs: args.ttl_secs,
        shared: args.shared.is_some(),
        key: args.key,
    })
}

fn shared_on_public_route(errors: &mut Errors, span: Span) {
    errors.error(
        span,
        "`shared` only applies to guarded routes; a public route's entry is already shared by everyone",
    );
}

/// Whether a handler argument is `CurrentUser` or `Option<CurrentUser>`:
/// its answer then depends on who asks.
fn reads_user(ty: &Type) -> bool {
    let Type::Path(path) = ty else {
        return false;
    };
    let Some(last) = path.path.segments.last() else {
        return false;
    };
    if last.ident == "CurrentUser" {
        return true;
    }
    match &last.arguments {
        PathArguments::AngleBracketed(args) if last.ident == "Option" => {
            args.args.iter().any(|arg| match arg {
                GenericArgument::Type(inner) => reads_user(inner),
                _ => false,
            })
        }
        _ => false,
    }
}

/// The placeholder names of a key template, or why it is malformed.
fn placeholders(template: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest.as_bytes()[open] == b'}' {
            return Err(format!("unmatched `}}` in the cache key \"{template}\""));
        }
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("unclosed `{{` in the cache key \"{template}\""))?;
        let name = &after[..close];
        let bare = name.strip_prefix("query.").unwrap_or(name);
        if bare.is_empty() || !bare.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "`{{{name}}}` is not a placeholder: use `{{param}}`, `{{query.name}}` or `{{user}}`"
            ));
        }
        names.push(name.to_owned());
        rest = &after[close + 1..];
    }
    Ok(names)
}
