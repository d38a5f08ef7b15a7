//! The attributes `#[plugin]` reads on its methods (`#[route]`, `#[cached]`,
//! `#[rate_limit]`, `#[invalidates]`): how each is recognised, and what
//! each says when it is reached on its own, outside a `#[plugin]` block.

use proc_macro2::{Span, TokenStream};
use quote::quote;

/// One of the attributes `#[plugin]` reads on a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MethodAttr {
    Route,
    Cached,
    RateLimit,
    Invalidates,
    OnStart,
    OnStop,
}

impl MethodAttr {
    fn name(self) -> &'static str {
        match self {
            MethodAttr::Route => "route",
            MethodAttr::Cached => "cached",
            MethodAttr::RateLimit => "rate_limit",
            MethodAttr::Invalidates => "invalidates",
            MethodAttr::OnStart => "on_start",
            MethodAttr::OnStop => "on_stop",
        }
    }

    /// Whether `attr` is this attribute, written bare or by path
    /// (`#[route]`, `#[xcore::route]`).
    pub(crate) fn is(self, attr: &syn::Attribute) -> bool {
        attr.path()
            .segments
            .last()
            .is_some_and(|segment| segment.ident == self.name())
    }

    /// The attribute reached on its own: its `#[plugin]` is missing. The
    /// user's item is kept, so the IDE still sees it.
    pub(crate) fn outside_plugin(self, item: TokenStream) -> TokenStream {
        let message = match self {
            MethodAttr::Route => "`#[route]` only works on a method of an `impl` block marked \
                 `#[plugin]`\nhelp: add `#[plugin]` above the `impl` block that holds this method"
                .to_owned(),
            MethodAttr::OnStart | MethodAttr::OnStop => format!(
                "`#[{}]` only works on a method of an `impl` block marked `#[plugin]`",
                self.name()
            ),
            other => format!(
                "`#[{}]` only works on a `#[route]` method of an `impl` block marked `#[plugin]`",
                other.name()
            ),
        };
        let error = syn::Error::new(Span::call_site(), message).to_compile_error();
        quote! { #item #error }
    }
}
