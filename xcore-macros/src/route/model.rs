//! A route as the plugin expands it: validated arguments plus what the
//! handler's signature tells.

use syn::spanned::Spanned;
use syn::{Attribute, FnArg, Ident, ImplItemFn, LitStr, ReceiverKind, ReturnType, Type};

use xcore_rules::path::{self, Segment};

use super::parse::{self, AuthArg, HttpMethod};
use crate::diagnostics::Errors;

/// Who may call the route.
pub(crate) struct GuardSpec {
    pub signed_in: bool,
    pub roles: Vec<LitStr>,
    pub permission: Option<LitStr>,
}

/// The handler function behind a route.
pub(crate) struct Handler {
    pub ident: Ident,
    /// `&self`: the handler reads the plugin's own state.
    pub takes_self: bool,
    pub args: Vec<Type>,
    pub output: Option<Type>,
    /// The doc comment, line by line.
    pub docs: Vec<String>,
}

/// One validated route.
pub(crate) struct Route {
    pub method: HttpMethod,
    pub path: LitStr,
    pub segments: Vec<Segment>,
    pub guard: GuardSpec,
    /// `status = N`: the success status, documented and applied.
    pub status: Option<u16>,
    pub handler: Handler,
    /// Set by `#[cached]` once the route is built.
    pub cache: Option<crate::cached::CacheSpec>,
    /// Set by `#[rate_limit]`s once the route is built.
    pub limits: Vec<crate::rate_limit::LimitSpec>,
    /// Set by `#[invalidates]` once the route is built: tag templates.
    pub invalidates: Vec<LitStr>,
}

/// Builds the route declared by `attr` on `func`, or reports why it cannot.
pub(crate) fn build(attr: &Attribute, func: &ImplItemFn, errors: &mut Errors) -> Option<Route> {
    let args = parse::parse(attr, errors);
    let segments = args
        .as_ref()
        .and_then(|args| match path::route(&args.path.value()) {
            Ok(segments) => Some(segments),
            Err(invalid) => {
                errors.error(args.path.span(), invalid);
                None
            }
        });
    let handler = handler(func, errors);
    let (args, segments, handler) = (args?, segments?, handler?);
    let guard = match args.auth {
        None => GuardSpec {
            signed_in: args.permission.is_some(),
            roles: Vec::new(),
            permission: args.permission,
        },
        Some(AuthArg::SignedIn) => GuardSpec {
            signed_in: true,
            roles: Vec::new(),
            permission: args.permission,
        },
        Some(AuthArg::Roles(roles)) => GuardSpec {
            signed_in: true,
            roles,
            permission: args.permission,
        },
    };
    Some(Route {
        method: args.method,
        path: args.path,
        segments,
        guard,
        status: args.status,
        handler,
        cache: None,
        limits: Vec::new(),
        invalidates: Vec::new(),
    })
}

/// Whether a plugin method's signature takes `&self`, and its argument
/// types: the one reading of a method's inputs, for routes and hooks. Any
/// other receiver is `receiver_error`, an `impl Trait` argument
/// `impl_trait_error` (every error reported, then `None`).
pub(crate) fn inputs(
    sig: &syn::Signature,
    receiver_error: &str,
    impl_trait_error: &str,
    errors: &mut Errors,
) -> Option<(bool, Vec<Type>)> {
    let mut ok = true;
    let mut takes_self = false;
    let mut args = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(receiver) => {
                if matches!(receiver.kind, ReceiverKind::Reference(_, _, None)) {
                    takes_self = true;
                } else {
                    errors.error(receiver.self_token.span(), receiver_error);
                    ok = false;
                }
            }
            FnArg::Typed(typed) => {
                if let Type::ImplTrait(_) = *typed.ty {
                    errors.error(typed.ty.span(), impl_trait_error);
                    ok = false;
                }
                args.push((*typed.ty).clone());
            }
        }
    }
    ok.then_some((takes_self, args))
}

fn handler(func: &ImplItemFn, errors: &mut Errors) -> Option<Handler> {
    let sig = &func.sig;
    let mut ok = true;
    if sig.asyncness.is_none() {
        errors.error(
            sig.fn_token.span(),
            "route handlers must be `async fn`\nhelp: write `async fn` here",
        );
        ok = false;
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.error(
            sig.generics.span(),
            "route handlers cannot be generic: the router needs one concrete function",
        );
        ok = false;
    }
    if let Some(variadic) = &sig.variadic {
        errors.error(variadic.span(), "route handlers cannot be variadic");
        ok = false;
    }
    let inputs = inputs(
        sig,
        "a route handler takes `&self` (to read the plugin's state) or no receiver at all; \
         the plugin is shared by concurrent requests",
        "handler arguments must be concrete extractor types, not `impl Trait`",
        errors,
    );
    ok &= inputs.is_some();
    let (takes_self, args) = inputs.unwrap_or_default();
    let output = match &sig.output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) => Some((**ty).clone()),
    };
    let docs = func
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("doc"))
        .filter_map(|attr| match &attr.meta {
            syn::Meta::NameValue(pair) => match &pair.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(text),
                    ..
                }) => Some(text.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    ok.then(|| Handler {
        ident: sig.ident.clone(),
        takes_self,
        args,
        output,
        docs,
    })
}
