//! `#[cached(ttl = N, shared, key = "...")]` on a route: caches its
//! successful responses. Read by `#[plugin]` together with the `#[route]`
//! of the same method; on its own it only reports that it is misplaced.

pub(crate) mod model;
pub(crate) mod parse;

use proc_macro2::{Span, TokenStream};
use quote::quote;

pub(crate) use model::CacheSpec;

/// Whether an attribute is `#[cached]` (also written `#[xcore::cached]`).
pub(crate) fn is_cached_attribute(attr: &syn::Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|segment| segment.ident == "cached")
}

/// `#[cached]` reached on its own: its `#[plugin]` is missing.
pub(crate) fn outside_plugin(item: TokenStream) -> TokenStream {
    let error = syn::Error::new(
        Span::call_site(),
        "`#[cached]` only works on a `#[route]` method of an `impl` block marked `#[plugin]`",
    )
    .to_compile_error();
    quote! { #item #error }
}
