//! `#[route(METHOD, "/path", options...)]`: one route of a plugin.
//!
//! The attribute is read by `#[plugin]` (which sees the whole impl block); on
//! its own it only reports that it is misplaced.

pub(crate) mod model;
pub(crate) mod parse;

use proc_macro2::{Span, TokenStream};
use quote::quote;

pub(crate) use model::Route;

/// Whether an attribute is `#[route]` (also written `#[xcore::route]`).
pub(crate) fn is_route_attribute(attr: &syn::Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|segment| segment.ident == "route")
}

/// `#[route]` reached on its own: its `#[plugin]` is missing.
pub(crate) fn outside_plugin(_args: TokenStream, item: TokenStream) -> TokenStream {
    let error = syn::Error::new(
        Span::call_site(),
        "`#[route]` only works on a method of an `impl` block marked `#[plugin]`\n\
         help: add `#[plugin]` above the `impl` block that holds this method",
    )
    .to_compile_error();
    quote! { #item #error }
}
