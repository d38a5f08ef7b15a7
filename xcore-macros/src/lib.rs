//! Attribute macros of xcore. Use them through `xcore` (`use xcore::prelude::*`),
//! never directly: the generated code refers to `::xcore`.
//!
//! Each attribute has its own module, split into parse (tokens to typed
//! arguments), model (validation and cross-checks) and expand (tokens out).
//! Errors carry the span of the exact key or value at fault; on error the
//! user's item is emitted unchanged next to the `compile_error!`, so the IDE
//! keeps seeing it.
//!
//! Set `XCORE_MACROS_DEBUG=1` to print every expansion to stderr.

mod diagnostics;
mod plugin;
mod route;

use proc_macro::TokenStream;

/// Turns an `impl` block into an xcore plugin. See `xcore::plugin` for the
/// documentation (it is re-exported there with examples).
#[proc_macro_attribute]
pub fn plugin(args: TokenStream, item: TokenStream) -> TokenStream {
    let output = plugin::expand(args.into(), item.into());
    diagnostics::debug_print("plugin", &output);
    output.into()
}

/// Declares a route on a method of a `#[plugin]` impl block. See
/// `xcore::route` for the documentation.
#[proc_macro_attribute]
pub fn route(args: TokenStream, item: TokenStream) -> TokenStream {
    route::outside_plugin(args.into(), item.into()).into()
}
