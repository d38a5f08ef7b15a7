//! The model to tokens: `impl ::xcore::Plugin for T`.
//!
//! Generated code names runtime items only through `::xcore::__private` and
//! stays thin: metadata, one `RouteInfo` per route, and the handler itself
//! (or, for `&self` handlers, a closure holding the plugin's `Arc`).

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::Type;
use syn::spanned::Spanned;

use super::model::PluginModel;
use crate::route::Route;
use crate::route::model::GuardSpec;
use crate::route::parse::HttpMethod;
use crate::runtime;
use xcore_rules::path::Segment;
use xcore_rules::rate_limit::KeyPart;

pub(crate) fn plugin_impl(model: &PluginModel) -> TokenStream {
    let PluginModel {
        self_ty,
        name,
        prefix,
        ..
    } = model;
    let version = match &model.version {
        Some(version) => quote!(#version),
        None => quote!(::core::env!("CARGO_PKG_VERSION")),
    };
    let tags = (!model.tags.is_empty()).then(|| {
        let tags = &model.tags;
        quote!(.tags([#(#tags),*]))
    });
    let description = model.description.as_ref().map(|d| quote!(.description(#d)));
    let depends_on = (!model.depends_on.is_empty()).then(|| {
        let plugins = &model.depends_on;
        quote!(.depends_on([#(#plugins),*]))
    });
    let config = model.config.as_ref().map(|ty| {
        let spec = runtime::config_spec();
        // Spanned at the type: a type that cannot be a section is reported
        // there, by the trait's own message.
        let of = quote_spanned!(ty.span()=> #spec::of::<#ty>());
        quote! {
            fn config(&self) -> ::core::option::Option<#spec> {
                ::core::option::Option::Some(#of)
            }
        }
    });
    let checks = model.routes.iter().map(bound_checks);
    let migrations =
        (!model.migrations.is_empty()).then(|| super::migrations::expand(&model.migrations));
    let routes = model.routes.iter().map(route);
    let (meta, table) = (runtime::plugin_meta(), runtime::routes());
    plugin_trait_impl(
        self_ty,
        quote! {
            #meta::new(#name)
                .version(#version)
                .prefix(#prefix)
                #tags
                #description
                #depends_on
        },
        quote! {
            #(#checks)*
            #table::new()
                #(#routes)*
        },
        {
            let hooks = model.hooks.iter().map(super::hooks::expand);
            quote!(#migrations #config #(#hooks)*)
        },
    )
}

/// Stands in for the real impl when the input has errors, so the user's
/// `App::plugin(T)` does not add a second, misleading error.
pub(crate) fn fallback_impl(self_ty: &Type) -> TokenStream {
    let unreachable = quote!(::core::unreachable!("#[plugin] reported a compile error"));
    plugin_trait_impl(
        self_ty,
        unreachable.clone(),
        unreachable,
        TokenStream::new(),
    )
}

/// `impl Plugin for T` with these bodies of `meta` and `routes`.
fn plugin_trait_impl(
    self_ty: &Type,
    meta_body: TokenStream,
    routes_body: TokenStream,
    rest: TokenStream,
) -> TokenStream {
    let (plugin, meta, arc, table) = (
        runtime::plugin(),
        runtime::plugin_meta(),
        runtime::arc(),
        runtime::routes(),
    );
    quote! {
        impl #plugin for #self_ty {
            fn meta(&self) -> #meta {
                #meta_body
            }

            fn routes(self: #arc<Self>) -> #table {
                #routes_body
            }

            #rest
        }
    }
}

fn route(route: &Route) -> TokenStream {
    let method = match route.method {
        HttpMethod::Get => quote!(Get),
        HttpMethod::Post => quote!(Post),
        HttpMethod::Put => quote!(Put),
        HttpMethod::Patch => quote!(Patch),
        HttpMethod::Delete => quote!(Delete),
    };
    let path = &route.path;
    let guard = guard(&route.guard);
    let ident = &route.handler.ident;
    let name = ident.to_string();
    let handler = handler(route);
    let cache = route.cache.as_ref().map(|spec| {
        let ttl = spec.ttl_secs;
        let shared = spec.shared.then(|| quote!(.shared()));
        let key = spec.key.as_ref().map(|key| quote!(.key(#key)));
        let vary = spec.vary_query.then(|| quote!(.vary_query()));
        let tags = &spec.tags;
        let tags = (!tags.is_empty()).then(|| quote!(.tags([#(#tags),*])));
        let policy = runtime::cache_policy();
        quote!(.cache(#policy::ttl_secs(#ttl) #shared #key #vary #tags))
    });
    let invalidates = &route.invalidates;
    let invalidates = (!invalidates.is_empty()).then(|| quote!(.invalidates([#(#invalidates),*])));
    // As in rustdoc: the first paragraph is the summary (its lines joined),
    // the rest is the description.
    let docs = (!route.handler.docs.is_empty()).then(|| {
        let lines = &route.handler.docs;
        let end = lines
            .iter()
            .position(|line| line.is_empty())
            .unwrap_or(lines.len());
        let summary = lines[..end].join(" ");
        let rest = lines[end..].join("\n");
        let rest = rest.trim();
        let description = (!rest.is_empty()).then(|| quote!(::core::option::Option::Some(#rest)));
        let description = description.unwrap_or_else(|| quote!(::core::option::Option::None));
        quote!(.docs(#summary, #description))
    });
    let limits = route.limits.iter().map(|limit| {
        let rate_limit = runtime::rate_limit();
        let (count, secs) = (limit.count, limit.period_secs);
        let keys = limit.key.iter().map(|part| match part {
            KeyPart::User => quote!(.key_user()),
            KeyPart::Ip => quote!(.key_ip()),
            KeyPart::Param(name) => quote!(.key_param(#name)),
        });
        let closed = limit.fail_closed.then(|| quote!(.fail_closed()));
        quote!(.limit(#rate_limit::new(#count, #secs) #(#keys)* #closed))
    });
    let status = route.status.map(|code| {
        let success_status = runtime::success_status();
        quote!(.status(#success_status(#code)))
    });
    let describe = describe(route);
    let (info, methods) = (runtime::route_info(), runtime::method());
    quote! {
        .route(
            #info::new(#methods::#method, #path)
                .guard(#guard)
                .handler(#name)
                #docs
                #status
                #describe
                #cache
                #invalidates
                #(#limits)*,
            #handler,
        )
    }
}

/// The handler as axum calls it. Arguments that are `Json`, `Form`,
/// `Query` or `Path` are read so that a refusal is the 422 body naming the
/// field (`Json` through [`json_arg`], the others as `Result`s turned by
/// [`rejected`]), and checked against their type's constraints before the
/// handler runs (when the type implements `Validate`: the probe picks the
/// check or nothing). A handler with none of them is passed as it is;
/// `&self` handlers get a closure holding the plugin's `Arc`.
///
/// [`json_arg`]: runtime::json_arg
/// [`rejected`]: runtime::rejected
fn handler(route: &Route) -> TokenStream {
    let ident = &route.handler.ident;
    let types = &route.handler.args;
    let checked: Vec<Option<Input>> = types.iter().map(checked_extractor).collect();
    // A body before the last argument is the user's mistake, which
    // `bound_checks` reports on that argument: wrapping would add a second
    // error about the wrapper.
    let misplaced_body = checked
        .iter()
        .take(types.len().saturating_sub(1))
        .any(|checked| matches!(checked, Some(Input::Json | Input::Form)));
    let checked: Vec<Option<Input>> = if misplaced_body {
        vec![None; types.len()]
    } else {
        checked
    };
    if !route.handler.takes_self && checked.iter().all(Option::is_none) {
        // Spanned on the function name: a handler that axum cannot accept
        // is reported there, not on `#[plugin]`.
        return quote_spanned!(ident.span()=> Self::#ident);
    }
    let args: Vec<_> = (0..types.len())
        .map(|i| format_ident!("__xcore_arg{i}"))
        .collect();
    let (state, result, response) = (runtime::app_state(), runtime::result(), runtime::response());
    let params: Vec<&str> = route
        .segments
        .iter()
        .filter_map(|segment| match segment {
            Segment::Param(name) | Segment::CatchAll(name) => Some(name.as_str()),
            Segment::Static(_) => None,
        })
        .collect();
    let (rejected, refused, probe) = (
        runtime::rejected(),
        runtime::refused(),
        runtime::validation_probe(),
    );
    let mut taken = Vec::new();
    let mut checks = TokenStream::new();
    for ((arg, ty), checked) in args.iter().zip(types).zip(&checked) {
        let from = match checked {
            None => {
                taken.push(quote!(#arg: #ty));
                continue;
            }
            Some(Input::Json) => {
                let json_arg = runtime::json_arg();
                taken.push(quote!(#json_arg(#arg): #json_arg<#ty>));
                checks.extend(quote!((&#probe::<#ty>::NEW).check_arg(&#arg).map_err(#refused)?;));
                continue;
            }
            Some(Input::Form) => {
                let from_request = runtime::from_request();
                quote!(#from_request<#state>)
            }
            Some(Input::Parts) => {
                let from_request_parts = runtime::from_request_parts();
                quote!(#from_request_parts<#state>)
            }
        };
        taken.push(quote!(#arg: #result<#ty, <#ty as #from>::Rejection>));
        checks.extend(quote! {
            let #arg = match #arg {
                #result::Ok(value) => value,
                #result::Err(rejection) => return #result::Err(#rejected(rejection, &[#(#params),*])),
            };
            (&#probe::<#ty>::NEW).check_arg(&#arg).map_err(#refused)?;
        });
    }
    let traits = [runtime::check_arg(), runtime::skip_check()];
    let body = |call: TokenStream| {
        quote! {
            async move {
                #[allow(unused_imports)]
                use {#(#traits as _),*};
                #checks
                #result::Ok::<_, #response>(#call.await)
            }
        }
    };
    if route.handler.takes_self {
        let arc = runtime::arc();
        let body = body(quote!(this.#ident(#(#args),*)));
        quote_spanned! {ident.span()=> {
            let this = #arc::clone(&self);
            move |#(#taken),*| {
                let this = #arc::clone(&this);
                #body
            }
        }}
    } else {
        let body = body(quote!(Self::#ident(#(#args),*)));
        quote_spanned! {ident.span()=> move |#(#taken),*| #body }
    }
}

/// An argument whose input is checked, by how it is read.
#[derive(Clone, Copy)]
enum Input {
    /// `Json<T>`: the body, read by xcore (`json_arg`).
    Json,
    /// `Form<T>`: the body (or the query of a `GET`), through `FromRequest`.
    Form,
    /// `Query<T>`, `Path<T>`: through `FromRequestParts`.
    Parts,
}

/// Whether an argument is one of the extractors whose input is checked.
/// Recognised by name, as written: in a `#[route]` signature these are
/// axum's (the prelude's).
fn checked_extractor(ty: &Type) -> Option<Input> {
    let Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    if !matches!(last.arguments, syn::PathArguments::AngleBracketed(_)) {
        return None;
    }
    match last.ident.to_string().as_str() {
        "Json" => Some(Input::Json),
        "Form" => Some(Input::Form),
        "Query" | "Path" => Some(Input::Parts),
        _ => None,
    }
}

/// What the handler's types tell the API document: each argument and the
/// return type are probed for `OperationInput` / `OperationOutput` (e.g.
/// `Json<T>` with `T: JsonSchema`); types without an impl contribute
/// nothing, so documenting a type stays opt-in.
fn describe(route: &Route) -> TokenStream {
    let op = format_ident!("__xcore_op");
    let probe = runtime::probe();
    let inputs = route
        .handler
        .args
        .iter()
        .map(|ty| quote!((&#probe::<#ty>::NEW).describe_input(#op);));
    let output = route
        .handler
        .output
        .as_ref()
        .filter(|ty| !contains_impl_trait(ty))
        .map(|ty| quote!((&#probe::<#ty>::NEW).describe_output(#op);));
    let operation = runtime::operation();
    let traits = [
        runtime::describe_input(),
        runtime::describe_output(),
        runtime::skip_input(),
        runtime::skip_output(),
    ];
    quote! {
        .describe(|#op: &mut #operation<'_>| {
            #[allow(unused_imports)]
            use {#(#traits as _),*};
            #(#inputs)*
            #output
        })
    }
}

fn guard(spec: &GuardSpec) -> TokenStream {
    let guard = runtime::guard();
    let base = match (spec.signed_in, spec.roles.as_slice()) {
        (false, _) => quote!(#guard::public()),
        (true, []) => quote!(#guard::signed_in()),
        (true, [role]) => quote!(#guard::role(#role)),
        (true, roles) => quote!(#guard::any_role([#(#roles),*])),
    };
    match &spec.permission {
        Some(permission) => quote!(#base.and_permission(#permission)),
        None => base,
    }
}

/// Each argument checked where the user wrote its type, so a type that is
/// not an extractor is reported on that argument rather than as an opaque
/// `Handler` bound failure on the whole function.
fn bound_checks(route: &Route) -> TokenStream {
    let args = &route.handler.args;
    let (last, other) = (
        runtime::assert_from_request(),
        runtime::assert_from_request_parts(),
    );
    let mut checks = TokenStream::new();
    for (index, ty) in args.iter().enumerate() {
        let check = if index + 1 == args.len() {
            quote_spanned!(ty.span()=> #last::<#ty, _>();)
        } else {
            quote_spanned!(ty.span()=> #other::<#ty>();)
        };
        checks.extend(check);
    }
    // `-> impl IntoResponse` cannot be named in a turbofish; axum checks it.
    if let Some(output) = route
        .handler
        .output
        .as_ref()
        .filter(|ty| !contains_impl_trait(ty))
    {
        let assert = runtime::assert_into_response();
        checks.extend(quote_spanned!(output.span()=> #assert::<#output>();));
    }
    checks
}

fn contains_impl_trait(ty: &Type) -> bool {
    match ty {
        Type::ImplTrait(_) => true,
        Type::Paren(inner) => contains_impl_trait(&inner.elem),
        Type::Group(inner) => contains_impl_trait(&inner.elem),
        Type::Reference(inner) => contains_impl_trait(&inner.elem),
        Type::Tuple(tuple) => tuple.elems.iter().any(contains_impl_trait),
        Type::Path(path) => path
            .path
            .segments
            .iter()
            .any(|segment| match &segment.arguments {
                syn::PathArguments::AngleBracketed(args) => args.args.iter().any(|arg| match arg {
                    syn::GenericArgument::Type(ty) => contains_impl_trait(ty),
                    _ => false,
                }),
                _ => false,
            }),
        _ => false,
    }
}
