//! `#[invalidates("produits", "prets:{user}")]` on a route: after each
//! successful answer, the cache entries carrying those tags are removed,
//! whichever plugin cached them. Read by `#[plugin]` together with the
//! `#[route]` of the same method; on its own it only reports that it is
//! misplaced.

use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, LitStr, Meta, Token};

use crate::diagnostics::Errors;
use crate::route::Route;

const USAGE: &str = "expected the tags to invalidate, e.g. `#[invalidates(\"produits\")]` or `#[invalidates(\"livres\", \"prets:{user}\")]`";

/// The tags of `#[invalidates(...)]`, checked against `route` by the rules
/// of `#[cached]`'s tags; `None` after reporting what is wrong.
pub(crate) fn build(attr: &Attribute, route: &Route, errors: &mut Errors) -> Option<Vec<LitStr>> {
    let span = attr.path().span();
    let tags = match &attr.meta {
        Meta::List(_) => {
            match attr.parse_args_with(Punctuated::<LitStr, Token![,]>::parse_terminated) {
                Ok(tags) => tags.into_iter().collect::<Vec<_>>(),
                Err(error) => {
                    errors.error(error.span(), format!("{error}: {USAGE}"));
                    return None;
                }
            }
        }
        _ => Vec::new(),
    };
    if tags.is_empty() {
        errors.error(
            span,
            format!("`#[invalidates]` needs at least one tag: {USAGE}"),
        );
        return None;
    }
    crate::cached::model::tags_fit(&tags, route, errors).then_some(tags)
}
