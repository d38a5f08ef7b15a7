//! `#[cached]` checked against its route: method, guard and key template,
//! by the rules the runtime applies to a hand-written `CachePolicy`.

use syn::spanned::Spanned;
use syn::{Attribute, GenericArgument, LitStr, PathArguments, Type};
use xcore_rules::{cache, path};

use super::parse;
use crate::diagnostics::Errors;
use crate::route::Route;

/// A validated cache declaration.
pub(crate) struct CacheSpec {
    pub ttl_secs: u64,
    pub shared: bool,
    pub key: Option<LitStr>,
    /// Tag templates, checked against the route.
    pub tags: Vec<LitStr>,
    /// The handler reads the query string: without a key template, entries
    /// differ by it.
    pub vary_query: bool,
}

/// Validates `#[cached]` on `route`.
pub(crate) fn build(attr: &Attribute, route: &Route, errors: &mut Errors) -> Option<CacheSpec> {
    let args = parse::parse(attr, errors)?;
    let mut ok = true;
    if let Err(invalid) = cache::method(route.method.as_str()) {
        errors.error(args.span, invalid);
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
        let params: Vec<&str> = path::params(&route.segments).collect();
        let checked = cache::KeyTemplate::parse(&key.value()).and_then(|template| {
            cache::fit(
                &template,
                &route.path.value(),
                &params,
                guarded,
                args.shared.is_some(),
            )
        });
        if let Err(invalid) = checked {
            errors.error(key.span(), invalid);
            ok = false;
        }
    }
    if !tags_fit(&args.tags, route, errors) {
        ok = false;
    }
    if let Some(span) = args.shared
        && let Err(invalid) = cache::shared(guarded)
    {
        errors.error(span, invalid);
        ok = false;
    }
    ok.then(|| CacheSpec {
        ttl_secs: args.ttl_secs,
        shared: args.shared.is_some(),
        key: args.key,
        tags: args.tags,
        vary_query: route.handler.args.iter().any(reads_query),
    })
}

/// Checks tag templates against `route` (placeholders of its path, `{user}`
/// only behind a guard, none empty), each error on its literal; whether
/// all fit. Shared with `#[invalidates]`.
pub(crate) fn tags_fit(tags: &[LitStr], route: &Route, errors: &mut Errors) -> bool {
    let params: Vec<&str> = path::params(&route.segments).collect();
    let mut ok = true;
    for tag in tags {
        let checked = cache::tag(&tag.value()).and_then(|template| {
            cache::tag_fits(
                &template,
                &route.path.value(),
                &params,
                route.guard.signed_in,
            )
        });
        if let Err(invalid) = checked {
            errors.error(tag.span(), invalid);
            ok = false;
        }
    }
    ok
}

/// Whether a handler argument reads the query string (`Query<T>`,
/// `RawQuery`, or either in an `Option`).
fn reads_query(ty: &Type) -> bool {
    let Type::Path(path) = ty else {
        return false;
    };
    let Some(last) = path.path.segments.last() else {
        return false;
    };
    if last.ident == "Query" || last.ident == "RawQuery" {
        return true;
    }
    match &last.arguments {
        PathArguments::AngleBracketed(args) if last.ident == "Option" => {
            args.args.iter().any(|arg| match arg {
                GenericArgument::Type(inner) => reads_query(inner),
                _ => false,
            })
        }
        _ => false,
    }
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
