//! `#[rate_limit]` checked against its route, by the rules the runtime
//! applies to a hand-written `RateLimit`.

use proc_macro2::Span;
use syn::{Attribute, LitInt};
use xcore_rules::path;
use xcore_rules::rate_limit::{self as rules, KeyPart};

use super::parse::{self, RawKey};
use crate::diagnostics::Errors;
use crate::route::Route;

/// A validated limit.
pub(crate) struct LimitSpec {
    pub count: u32,
    pub period_secs: u64,
    pub key: Vec<KeyPart>,
    pub fail_closed: bool,
    /// Where the limit is declared, for errors comparing two of them.
    pub span: Span,
}

/// Validates one `#[rate_limit]` on `route`.
pub(crate) fn build(attr: &Attribute, route: &Route, errors: &mut Errors) -> Option<LimitSpec> {
    let args = parse::parse(attr, errors)?;
    let count = count(&args.count, errors);
    let period_secs = match rules::period(&args.per.value()) {
        Ok(secs) => Some(secs),
        Err(invalid) => {
            errors.error(args.per.span(), invalid);
            None
        }
    };
    let guarded = route.guard.signed_in;
    let (key_span, key) = match args.key {
        Some((span, parts)) => (
            span,
            parts
                .into_iter()
                .map(|part| match part {
                    RawKey::User => KeyPart::User,
                    RawKey::Ip => KeyPart::Ip,
                    RawKey::Param(name) => KeyPart::Param(name),
                })
                .collect(),
        ),
        None if guarded => (args.span, vec![KeyPart::User]),
        None => (args.span, vec![KeyPart::Ip]),
    };
    let params: Vec<&str> = path::params(&route.segments).collect();
    let fits = match rules::key_fits(&key, &params, guarded) {
        Ok(()) => true,
        Err(invalid) => {
            errors.error(key_span, invalid);
            false
        }
    };
    match (count, period_secs, fits) {
        (Some(count), Some(period_secs), true) => Some(LimitSpec {
            count,
            period_secs,
            key,
            fail_closed: args.fail_closed,
            span: args.span,
        }),
        _ => None,
    }
}

fn count(lit: &LitInt, errors: &mut Errors) -> Option<u32> {
    let Ok(value) = lit.base10_parse::<u64>() else {
        errors.error(
            lit.span(),
            "the count is a whole number of requests, e.g. `3`",
        );
        return None;
    };
    match rules::count(value) {
        Ok(()) => u32::try_from(value).ok(),
        Err(invalid) => {
            errors.error(lit.span(), invalid);
            None
        }
    }
}

/// Refuses two limits of one route with the same period and key.
pub(crate) fn check_distinct(limits: &[LimitSpec], errors: &mut Errors) {
    let pairs: Vec<(u64, Vec<KeyPart>)> = limits
        .iter()
        .map(|limit| (limit.period_secs, limit.key.clone()))
        .collect();
    if let Err((index, invalid)) = rules::distinct(&pairs) {
        let first = limits[..index]
            .iter()
            .find(|l| l.period_secs == limits[index].period_secs)
            .map_or(limits[0].span, |l| l.span);
        errors.duplicate(
            limits[index].span,
            invalid,
            first,
            "the first limit with this period and key",
        );
    }
}
