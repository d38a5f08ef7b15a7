//! Error collection shared by every attribute: gather all problems of an
//! input, report them together, never panic.

use std::fmt::Display;

use proc_macro2::{Span, TokenStream};

/// Accumulates errors so one expansion reports every problem it finds.
#[derive(Default)]
pub(crate) struct Errors {
    combined: Option<syn::Error>,
}

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(existing) => existing.combine(error),
            None => self.combined = Some(error),
        }
    }

    pub(crate) fn error(&mut self, span: Span, message: impl Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Reports `message` at `span` and a note at the earlier `previous` span.
    pub(crate) fn duplicate(
        &mut self,
        span: Span,
        message: impl Display,
        previous: Span,
        note: impl Display,
    ) {
        self.error(span, message);
        self.error(previous, note);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.combined.is_none()
    }

    pub(crate) fn into_compile_errors(self) -> TokenStream {
        self.combined
            .map(|error| error.to_compile_error())
            .unwrap_or_default()
    }
}

/// `XCORE_MACROS_DEBUG=1` prints expansions, like axum's `AXUM_MACROS_DEBUG`.
pub(crate) fn debug_print(attribute: &str, output: &TokenStream) {
    if std::env::var_os("XCORE_MACROS_DEBUG").is_some() {
        eprintln!("#[{attribute}] expanded to:\n{output}\n");
    }
}
