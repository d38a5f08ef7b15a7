//! `#[on_start]` and `#[on_stop]` on methods of a `#[plugin]` block: read
//! (an `async fn`, `&self` or no receiver, arguments the hook's context
//! gives), then expanded into `Plugin::on_start` / `Plugin::on_stop`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, ImplItemFn, ReturnType, Type};

use crate::diagnostics::Errors;
use crate::runtime;

/// When a hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HookKind {
    Start,
    Stop,
}

impl HookKind {
    pub(crate) fn attribute(self) -> &'static str {
        match self {
            HookKind::Start => "on_start",
            HookKind::Stop => "on_stop",
        }
    }
}

/// One hook, checked.
pub(crate) struct Hook {
    pub kind: HookKind,
    pub ident: Ident,
    pub takes_self: bool,
    pub args: Vec<Type>,
    pub output: Option<Type>,
    /// The attribute, for errors about the plugin's hooks as a whole.
    pub span: proc_macro2::Span,
}

/// Reads `#[on_start]` / `#[on_stop]` (`attr`) on `func`.
pub(crate) fn build(
    kind: HookKind,
    attr: &syn::Attribute,
    func: &ImplItemFn,
    errors: &mut Errors,
) -> Option<Hook> {
    let name = kind.attribute();
    let mut ok = true;
    if !matches!(attr.meta, syn::Meta::Path(_)) {
        errors.error(
            attr.meta.span(),
            format!(
                "`#[{name}]` takes no arguments; its deadline is `lifecycle.{}_timeout_secs`",
                match kind {
                    HookKind::Start => "start",
                    HookKind::Stop => "stop",
                }
            ),
        );
        ok = false;
    }
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        errors.error(
            sig.fn_token.span(),
            format!("a `#[{name}]` hook must be an `async fn`\nhelp: write `async fn` here"),
        );
        ok = false;
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.error(
            sig.generics.span(),
            format!("a `#[{name}]` hook cannot be generic"),
        );
        ok = false;
    }
    let receiver_error = format!(
        "a `#[{name}]` hook takes `&self` (to keep what it builds in the plugin) or no receiver"
    );
    let inputs = crate::route::model::inputs(
        sig,
        &receiver_error,
        "hook arguments are concrete types (`Db`, `Cache`, `PluginConfig<T>`, ...), not `impl Trait`",
        errors,
    );
    ok &= inputs.is_some();
    let (takes_self, args) = inputs.unwrap_or_default();
    let output = match &sig.output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) => Some((**ty).clone()),
    };
    ok.then(|| Hook {
        kind,
        ident: sig.ident.clone(),
        takes_self,
        args,
        output,
        span: attr.span(),
    })
}

/// At most one hook of each kind.
pub(crate) fn check_distinct(hooks: &[Hook], errors: &mut Errors) {
    for (index, hook) in hooks.iter().enumerate() {
        if let Some(first) = hooks[..index].iter().find(|h| h.kind == hook.kind) {
            let name = hook.kind.attribute();
            errors.duplicate(
                hook.span,
                format!("a plugin has one `#[{name}]` hook: call the others from it"),
                first.span,
                format!("the first `#[{name}]` is here"),
            );
        }
    }
}

/// `fn on_start(...)` / `fn on_stop(...)` of `impl Plugin`.
pub(crate) fn expand(hook: &Hook) -> TokenStream {
    let (arc, context_ty, hook_ty, from_context, output) = (
        runtime::arc(),
        runtime::plugin_context(),
        runtime::hook(),
        runtime::from_plugin_context(),
        runtime::hook_output(),
    );
    let method = match hook.kind {
        HookKind::Start => format_ident!("on_start"),
        HookKind::Stop => format_ident!("on_stop"),
    };
    let names: Vec<Ident> = (0..hook.args.len())
        .map(|i| format_ident!("__arg{i}"))
        .collect();
    let reads = hook.args.iter().zip(&names).map(|(ty, name)| {
        quote_spanned! {ty.span()=>
            let #name = <#ty as #from_context>::from_context(&context)?;
        }
    });
    let ident = &hook.ident;
    let call = if hook.takes_self {
        quote!(self.#ident(#(#names),*).await)
    } else {
        quote!(Self::#ident(#(#names),*).await)
    };
    let result = match &hook.output {
        Some(ty) => quote_spanned!(ty.span()=> <#ty as #output>::into_result(#call)),
        None => quote!(<() as #output>::into_result(#call)),
    };
    quote! {
        fn #method(
            self: #arc<Self>,
            context: #context_ty,
        ) -> ::core::option::Option<#hook_ty> {
            ::core::option::Option::Some(::std::boxed::Box::pin(async move {
                let _ = &context;
                #(#reads)*
                #result
            }))
        }
    }
}
