//! `#[plugin(...)]` on an `impl` block: collects its `#[route]` methods and
//! implements `xcore::Plugin`.

mod expand;
mod hooks;
mod migrations;
mod model;
mod parse;

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{ImplItem, ItemImpl};

use crate::cached;
use crate::diagnostics::Errors;
use crate::invalidates;
use crate::method_attr::MethodAttr;
use crate::rate_limit;
use crate::route::{self, Route};

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let mut item_impl: ItemImpl = match syn::parse2(item.clone()) {
        Ok(item_impl) => item_impl,
        Err(_) => {
            errors.error(
                Span::call_site(),
                "`#[plugin]` goes on an `impl` block: `#[plugin] impl MyPlugin { ... }`",
            );
            let errors = errors.into_compile_errors();
            return quote! { #item #errors };
        }
    };
    if let Some((trait_path, _)) = &item_impl.trait_ {
        errors.error(
            syn::spanned::Spanned::span(trait_path),
            "`#[plugin]` goes on an inherent `impl` block (`impl MyPlugin`), not a trait impl",
        );
    }
    if !item_impl.generics.params.is_empty() {
        errors.error(
            syn::spanned::Spanned::span(&item_impl.generics),
            "a plugin type cannot be generic: the app needs one concrete type per plugin",
        );
    }

    let args = parse::parse(args, &mut errors);
    let (routes, hooks) = take_routes(&mut item_impl, &mut errors);
    let model = model::build(args, &item_impl, routes, hooks, &mut errors);

    match model {
        Some(model) if errors.is_empty() => {
            let plugin_impl = expand::plugin_impl(&model);
            quote! { #item_impl #plugin_impl }
        }
        _ => {
            let fallback = if item_impl.trait_.is_none() && item_impl.generics.params.is_empty() {
                expand::fallback_impl(&item_impl.self_ty)
            } else {
                TokenStream::new()
            };
            let errors = errors.into_compile_errors();
            quote! { #item_impl #fallback #errors }
        }
    }
}

/// Removes every `#[route]`, `#[cached]`, `#[rate_limit]` and
/// `#[invalidates]` attribute from the block (they
/// are not real attributes once read) and builds the routes they declare.
fn take_routes(item_impl: &mut ItemImpl, errors: &mut Errors) -> (Vec<Route>, Vec<hooks::Hook>) {
    let mut routes = Vec::new();
    let mut found_hooks = Vec::new();
    for item in &mut item_impl.items {
        let attrs = match item {
            ImplItem::Fn(func) => &mut func.attrs,
            ImplItem::Const(c) => &mut c.attrs,
            ImplItem::Type(t) => &mut t.attrs,
            ImplItem::Macro(m) => &mut m.attrs,
            _ => continue,
        };
        let (route_attrs, other): (Vec<_>, Vec<_>) = std::mem::take(attrs)
            .into_iter()
            .partition(|attr| MethodAttr::Route.is(attr));
        let (cached_attrs, other): (Vec<_>, Vec<_>) = other
            .into_iter()
            .partition(|attr| MethodAttr::Cached.is(attr));
        let (limit_attrs, other): (Vec<_>, Vec<_>) = other
            .into_iter()
            .partition(|attr| MethodAttr::RateLimit.is(attr));
        let (invalidates_attrs, other): (Vec<_>, Vec<_>) = other
            .into_iter()
            .partition(|attr| MethodAttr::Invalidates.is(attr));
        let (hook_attrs, other): (Vec<_>, Vec<_>) = other
            .into_iter()
            .partition(|attr| MethodAttr::OnStart.is(attr) || MethodAttr::OnStop.is(attr));
        *attrs = other;
        let ImplItem::Fn(func) = item else {
            for attr in route_attrs
                .iter()
                .chain(&cached_attrs)
                .chain(&limit_attrs)
                .chain(&invalidates_attrs)
                .chain(&hook_attrs)
            {
                errors.error(
                    syn::spanned::Spanned::span(attr.path()),
                    "this attribute goes on a method (an `async fn`) of the plugin",
                );
            }
            continue;
        };
        if let Some(first) = hook_attrs.first() {
            if let Some(route) = route_attrs.first() {
                errors.error(
                    syn::spanned::Spanned::span(route.path()),
                    "a hook is not a route: give the route its own method",
                );
            }
            for extra in hook_attrs.iter().skip(1) {
                errors.error(
                    syn::spanned::Spanned::span(extra.path()),
                    "one hook attribute per method",
                );
            }
            let kind = if MethodAttr::OnStart.is(first) {
                hooks::HookKind::Start
            } else {
                hooks::HookKind::Stop
            };
            if let Some(hook) = hooks::build(kind, first, func, errors) {
                found_hooks.push(hook);
            }
            continue;
        }
        for extra in route_attrs.iter().skip(1) {
            errors.error(
                syn::spanned::Spanned::span(extra.path()),
                "a handler has one `#[route]`; to serve it on another path, add a function that calls it",
            );
        }
        for extra in cached_attrs.iter().skip(1) {
            errors.error(
                syn::spanned::Spanned::span(extra.path()),
                "`#[cached]` is given twice",
            );
        }
        for extra in invalidates_attrs.iter().skip(1) {
            errors.error(
                syn::spanned::Spanned::span(extra.path()),
                "`#[invalidates]` is given twice: list every tag in one, `#[invalidates(\"a\", \"b\")]`",
            );
        }
        let Some(first) = route_attrs.first() else {
            if let Some(attr) = cached_attrs.first() {
                errors.error(
                    syn::spanned::Spanned::span(attr.path()),
                    "`#[cached]` caches a route: add `#[route(get, \"/path\")]` to this method",
                );
            }
            if let Some(attr) = limit_attrs.first() {
                errors.error(
                    syn::spanned::Spanned::span(attr.path()),
                    "`#[rate_limit]` limits a route: add `#[route(post, \"/path\")]` to this method",
                );
            }
            if let Some(attr) = invalidates_attrs.first() {
                errors.error(
                    syn::spanned::Spanned::span(attr.path()),
                    "`#[invalidates]` goes on a route that writes: add `#[route(post, \"/path\")]` to this method",
                );
            }
            continue;
        };
        if let Some(mut route) = route::model::build(first, func, errors) {
            if let Some(attr) = cached_attrs.first() {
                route.cache = cached::model::build(attr, &route, errors);
            }
            let limits: Vec<_> = limit_attrs
                .iter()
                .filter_map(|attr| rate_limit::model::build(attr, &route, errors))
                .collect();
            rate_limit::model::check_distinct(&limits, errors);
            route.limits = limits;
            if let Some(attr) = invalidates_attrs.first() {
                route.invalidates = invalidates::build(attr, &route, errors).unwrap_or_default();
            }
            routes.push(route);
        }
    }
    hooks::check_distinct(&found_hooks, errors);
    (routes, found_hooks)
}
