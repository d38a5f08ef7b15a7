//! Every runtime item the generated code names, in one table.
//!
//! Generated code reaches xcore only through `::xcore::__private` (the
//! user's `use` lines and dependencies never matter); each item it needs is
//! one line here, so moving a runtime item changes one place.

use proc_macro2::TokenStream;
use quote::quote;

macro_rules! runtime_paths {
    ($($(#[$doc:meta])* $name:ident => $item:ident;)*) => {
        $(
            $(#[$doc])*
            pub(crate) fn $name() -> TokenStream {
                quote!(::xcore::__private::$item)
            }
        )*
    };
}

runtime_paths! {
    /// The trait `#[plugin]` implements.
    plugin => Plugin;
    /// A plugin's name, version, prefix, tags and description.
    plugin_meta => PluginMeta;
    /// How a plugin's `[plugins.<name>]` section is read.
    config_spec => ConfigSpec;
    /// What a start or stop hook is given, reads its arguments from, and
    /// returns.
    plugin_context => PluginContext;
    from_plugin_context => FromPluginContext;
    hook_output => HookOutput;
    hook => Hook;
    /// A plugin's route table.
    routes => Routes;
    /// One row of it.
    route_info => RouteInfo;
    /// The HTTP method of a row.
    method => Method;
    /// Who may call a route.
    guard => Guard;
    /// `#[cached]` on a route.
    cache_policy => CachePolicy;
    /// `#[rate_limit]` on a route.
    rate_limit => RateLimit;
    /// One migration file.
    migration => Migration;
    /// `std::sync::Arc`, for `&self` handlers.
    arc => Arc;
    /// A success status from its number.
    success_status => success_status;
    /// The API-document probes: a type describes itself or is skipped.
    probe => Probe;
    operation => Operation;
    describe_input => DescribeInput;
    describe_output => DescribeOutput;
    skip_input => SkipInput;
    skip_output => SkipOutput;
    /// Input checks run before a handler: an extractor's rejection as the
    /// 422 body, a value against its type's constraints.
    app_state => AppState;
    from_request => FromRequest;
    from_request_parts => FromRequestParts;
    rejected => rejected;
    refused => refused;
    json_arg => JsonArg;
    validation_probe => ValidationProbe;
    check_arg => CheckArg;
    skip_check => SkipCheck;
    response => Response;
    result => Result;
    /// Compile-time checks spanned on the user's types.
    assert_from_request => assert_from_request;
    assert_from_request_parts => assert_from_request_parts;
    assert_into_response => assert_into_response;
}
