//! Tokens of `#[rate_limit(...)]` to typed arguments.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ExprArray, ExprLit, ExprPath, Ident, Lit, LitInt, LitStr, Token};

use crate::diagnostics::Errors;

const USAGE: &str = "expected `#[rate_limit(3, per = \"minute\")]`, optionally with \
                     `key = user` (or `ip`, \"{param}\", a list of them) and `fail = \"closed\"`";
const OPTIONS: &str = "per, key, fail";

/// One part of the key, as written.
pub(crate) enum RawKey {
    User,
    Ip,
    Param(String),
}

/// `#[rate_limit(...)]`, parsed.
pub(crate) struct LimitArgs {
    /// Span of the whole attribute, for errors about it.
    pub span: Span,
    pub count: LitInt,
    pub per: LitStr,
    /// `None`: the default (the user on a guarded route, else the address).
    pub key: Option<(Span, Vec<RawKey>)>,
    /// `fail = "closed"`: refuse (503) when the shared store is down.
    pub fail_closed: bool,
}

enum Item {
    Count(LitInt),
    Option { key: Ident, value: Expr },
}

impl Parse for Item {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(LitInt) {
            return input.parse().map(Item::Count);
        }
        let key: Ident = input.parse()?;
        input.parse::<Token![=]>()?;
        Ok(Item::Option {
            key,
            value: input.parse()?,
        })
    }
}

pub(crate) fn parse(attr: &Attribute, errors: &mut Errors) -> Option<LimitArgs> {
    let span = attr.path().span();
    let items = match attr.parse_args_with(Punctuated::<Item, Token![,]>::parse_terminated) {
        Ok(items) => items,
        Err(error) => {
            errors.push(syn::Error::new(error.span(), format!("{error}; {USAGE}")));
            return None;
        }
    };
    let mut count = None;
    let mut per = None;
    let mut key = None;
    let mut fail_closed = false;
    let mut seen: Vec<(String, Span)> = Vec::new();
    let mut ok = true;
    for item in items {
        match item {
            Item::Count(lit) if count.is_none() => count = Some(lit),
            Item::Count(lit) => {
                errors.error(lit.span(), "the count is given twice");
                ok = false;
            }
            Item::Option { key: name, value } => {
                let text = name.to_string();
                if let Some((_, previous)) = seen.iter().find(|(n, _)| *n == text) {
                    errors.duplicate(
                        name.span(),
                        format!("`{text}` is given twice"),
                        *previous,
                        format!("`{text}` first given here"),
                    );
                    ok = false;
                    continue;
                }
                seen.push((text.clone(), name.span()));
                match text.as_str() {
                    "per" => match &value {
                        Expr::Lit(ExprLit {
                            lit: Lit::Str(lit), ..
                        }) => per = Some(lit.clone()),
                        other => {
                            errors.error(
                                other.span(),
                                "`per` takes a period as a string: \"second\", \"minute\", \"hour\" or \"day\"",
                            );
                            ok = false;
                        }
                    },
                    "key" => match keys(&value, errors) {
                        Some(parts) => key = Some((value.span(), parts)),
                        None => ok = false,
                    },
                    "fail" => match &value {
                        Expr::Lit(ExprLit {
                            lit: Lit::Str(lit), ..
                        }) if lit.value() == "closed" || lit.value() == "open" => {
                            fail_closed = lit.value() == "closed";
                        }
                        other => {
                            errors.error(
                                other.span(),
                                "`fail` is \"open\" (serve when the shared store is down, the default) or \"closed\" (answer 503)",
                            );
                            ok = false;
                        }
                    },
                    "period" | "every" | "window" => {
                        errors.error(
                            name.span(),
                            format!("unknown option `{text}`: the period is `per = \"minute\"`"),
                        );
                        ok = false;
                    }
                    other => {
                        errors.error(
                            name.span(),
                            format!("unknown option `{other}`; expected one of {OPTIONS}"),
                        );
                        ok = false;
                    }
                }
            }
        }
    }
    let Some(count) = count else {
        if ok {
            errors.error(span, format!("`#[rate_limit]` needs a count: {USAGE}"));
        }
        return None;
    };
    let Some(per) = per else {
        if ok {
            errors.error(span, format!("`#[rate_limit]` needs a period: {USAGE}"));
        }
        return None;
    };
    ok.then_some(LimitArgs {
        span,
        count,
        per,
        key,
        fail_closed,
    })
}

fn keys(value: &Expr, errors: &mut Errors) -> Option<Vec<RawKey>> {
    match value {
        Expr::Array(ExprArray { elems, .. }) => {
            let parts: Vec<RawKey> = elems.iter().filter_map(|e| key(e, errors)).collect();
            (parts.len() == elems.len() && !parts.is_empty()).then_some(parts)
        }
        other => key(other, errors).map(|part| vec![part]),
    }
}

fn key(value: &Expr, errors: &mut Errors) -> Option<RawKey> {
    match value {
        Expr::Path(ExprPath { path, .. }) if path.is_ident("user") => Some(RawKey::User),
        Expr::Path(ExprPath { path, .. }) if path.is_ident("ip") => Some(RawKey::Ip),
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => {
            let text = lit.value();
            match text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                Some(name) if !name.is_empty() => Some(RawKey::Param(name.to_owned())),
                _ => {
                    errors.error(
                        lit.span(),
                        "a path parameter in a key is written in braces: `key = \"{id}\"`",
                    );
                    None
                }
            }
        }
        other => {
            errors.error(
                other.span(),
                "a key is `user`, `ip`, a path parameter like \"{id}\", or a list of them",
            );
            None
        }
    }
}
