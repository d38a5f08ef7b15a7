//! `#[rate_limit(N, per = "minute", key = user)]` on a route: at most N
//! requests per period, counted per key. Read by `#[plugin]` together with
//! the `#[route]` of the same method; on its own it only reports that it is
//! misplaced.

pub(crate) mod model;
pub(crate) mod parse;

use proc_macro2::{Span, TokenStream};
use quote::quote;

pub(crate) use model::LimitSpec;

/// Whether an attribute is `#[rate_limit]` (also `#[xcore::rate_limit]`).
pub(crate) fn is_rate_limit_attribute(attr: &syn::Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|segment| segment.ident == "rate_limit")
}

/// `#[rate_limit]` reached on its own: its `#[plugin]` is missing.
pub(crate) fn outside_plugin(item: TokenStream) -> TokenStream {
    let error = syn::Error::new(
        Span::call_site(),
        "`#[rate_limit]` only works on a `#[route]` method of an `impl` block marked `#[plugin]`",
    )
    .to_compile_error();
    quote! { #item #error }
}
