//! Tokens of `#[cached(...)]` to typed arguments.

use proc_macro2::Span;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ExprArray, ExprLit, Lit, LitStr, Meta, Token};

use crate::diagnostics::Errors;

const USAGE: &str = "expected `#[cached(ttl = 300)]` (seconds), optionally with `shared`, `key = \"...\"` and `tags = [\"...\"]`";
const OPTIONS: &str = "ttl, shared, key, tags";

/// `#[cached(...)]`, parsed.
pub(crate) struct CachedArgs {
    /// Span of the attribute's name, for errors about the whole attribute.
    pub span: Span,
    pub ttl_secs: u64,
    pub shared: Option<Span>,
    pub key: Option<LitStr>,
    pub tags: Vec<LitStr>,
}

pub(crate) fn parse(attr: &Attribute, errors: &mut Errors) -> Option<CachedArgs> {
    let span = attr.path().span();
    let metas = match &attr.meta {
        Meta::List(_) => {
            match attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
                Ok(metas) => metas,
                Err(error) => {
                    errors.push(error);
                    return None;
                }
            }
        }
        _ => {
            errors.error(span, format!("`#[cached]` needs a TTL: {USAGE}"));
            return None;
        }
    };
    let mut ttl: Option<(Span, u64)> = None;
    let mut shared: Option<Span> = None;
    let mut key: Option<LitStr> = None;
    let mut tags: Vec<LitStr> = Vec::new();
    let mut seen: Vec<(String, Span)> = Vec::new();
    let mut ok = true;
    for meta in metas {
        let Some(ident) = meta.path().get_ident() else {
            errors.error(
                meta.path().span(),
                format!("unknown option; expected one of {OPTIONS}"),
            );
            ok = false;
            continue;
        };
        let name = ident.to_string();
        if let Some((_, previous)) = seen.iter().find(|(n, _)| *n == name) {
            errors.duplicate(
                ident.span(),
                format!("`{name}` is given twice"),
                *previous,
                format!("`{name}` first given here"),
            );
            ok = false;
            continue;
        }
        seen.push((name.clone(), ident.span()));
        match (name.as_str(), &meta) {
            ("ttl", Meta::NameValue(pair)) => match &pair.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Int(int), ..
                }) => match int.base10_parse::<u64>() {
                    Ok(secs) if int.suffix().is_empty() => match xcore_rules::cache::ttl(secs) {
                        Ok(()) => ttl = Some((int.span(), secs)),
                        Err(invalid) => {
                            errors.error(int.span(), invalid);
                            ok = false;
                        }
                    },
                    _ => {
                        errors.error(
                            int.span(),
                            "`ttl` is a whole number of seconds without suffix, e.g. `ttl = 300`",
                        );
                        ok = false;
                    }
                },
                other => {
                    errors.error(
                        other.span(),
                        "`ttl` is a whole number of seconds, e.g. `ttl = 300` for five minutes",
                    );
                    ok = false;
                }
            },
            ("shared", Meta::Path(_)) => shared = Some(ident.span()),
            ("key", Meta::NameValue(pair)) => match &pair.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(lit), ..
                }) => key = Some(lit.clone()),
                other => {
                    errors.error(
                        other.span(),
                        "`key` takes a string template, e.g. `key = \"produits:all\"`",
                    );
                    ok = false;
                }
            },
            ("tags", Meta::NameValue(pair)) => {
                let literals: Option<Vec<LitStr>> = match &pair.value {
                    Expr::Array(ExprArray { elems, .. }) => elems
                        .iter()
                        .map(|elem| match elem {
                            Expr::Lit(ExprLit {
                                lit: Lit::Str(lit), ..
                            }) => Some(lit.clone()),
                            _ => None,
                        })
                        .collect(),
                    Expr::Lit(ExprLit {
                        lit: Lit::Str(lit), ..
                    }) => Some(vec![lit.clone()]),
                    _ => None,
                };
                match literals {
                    Some(literals) => tags = literals,
                    None => {
                        errors.error(
                            pair.value.span(),
                            "`tags` takes string templates, e.g. `tags = [\"livres\", \"prets:{user}\"]`",
                        );
                        ok = false;
                    }
                }
            }
            ("tags", _) | ("tag", _) => {
                errors.error(
                    ident.span(),
                    "`tags` takes a list of strings: `tags = [\"livres\"]`",
                );
                ok = false;
            }
            ("ttl", _) => {
                errors.error(ident.span(), "`ttl` takes a number of seconds: `ttl = 300`");
                ok = false;
            }
            ("shared", _) => {
                errors.error(ident.span(), "`shared` is a flag: write `shared` alone");
                ok = false;
            }
            ("key", _) => {
                errors.error(
                    ident.span(),
                    "`key` takes a string template: `key = \"produits:all\"`",
                );
                ok = false;
            }
            ("ttl_secs" | "seconds" | "expire" | "ttl_seconds", _) => {
                errors.error(
                    ident.span(),
                    format!("unknown option `{name}`: the lifetime is `ttl`, in seconds"),
                );
                ok = false;
            }
            _ => {
                errors.error(
                    ident.span(),
                    format!("unknown option `{name}`; expected one of {OPTIONS}"),
                );
                ok = false;
            }
        }
    }
    let Some((_, ttl_secs)) = ttl else {
        if ok {
            errors.error(span, format!("`#[cached]` needs a TTL: {USAGE}"));
        }
        return None;
    };
    ok.then_some(CachedArgs {
        span,
        ttl_secs,
        shared,
        key,
        tags,
    })
}
