//! Tokens of `#[route(...)]` to typed arguments.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ExprArray, ExprLit, Ident, Lit, LitStr, Token};

use crate::diagnostics::Errors;

/// The HTTP methods a route may declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

const METHODS: &str = "get, post, put, patch, delete";

impl HttpMethod {
    fn from_ident(ident: &Ident) -> Result<Self, syn::Error> {
        let text = ident.to_string();
        match text.as_str() {
            "get" => Ok(HttpMethod::Get),
            "post" => Ok(HttpMethod::Post),
            "put" => Ok(HttpMethod::Put),
            "patch" => Ok(HttpMethod::Patch),
            "delete" => Ok(HttpMethod::Delete),
            other
                if ["get", "post", "put", "patch", "delete"]
                    .contains(&other.to_lowercase().as_str()) =>
            {
                Err(syn::Error::new(
                    ident.span(),
                    format!(
                        "methods are written in lowercase: use `{}`",
                        other.to_lowercase()
                    ),
                ))
            }
            "head" => Err(syn::Error::new(
                ident.span(),
                "unknown method `head`: a `get` route answers HEAD requests too",
            )),
            other => Err(syn::Error::new(
                ident.span(),
                format!("unknown method `{other}`; expected one of {METHODS}"),
            )),
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }
}

/// Who may call the route, as written.
#[derive(Clone)]
pub(crate) enum AuthArg {
    /// `auth`: any signed-in user.
    SignedIn,
    /// `auth = "role"` or `auth = ["a", "b"]`: one of these roles.
    Roles(Vec<LitStr>),
}

/// `#[route(...)]`, parsed.
pub(crate) struct RouteArgs {
    pub method: HttpMethod,
    pub path: LitStr,
    pub auth: Option<AuthArg>,
    pub permission: Option<LitStr>,
    /// `status = 201`: the status of a successful response.
    pub status: Option<u16>,
}

/// One comma-separated item inside the attribute.
enum RawArg {
    Flag(Ident),
    Str(LitStr),
    KeyValue { key: Ident, value: Expr },
}

impl Parse for RawArg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(LitStr) {
            return input.parse().map(RawArg::Str);
        }
        if input.peek(Ident::peek_any) {
            let key = input.call(Ident::parse_any)?;
            if input.peek(Token![=]) {
                input.parse::<Token![=]>()?;
                let value = input.parse()?;
                return Ok(RawArg::KeyValue { key, value });
            }
            return Ok(RawArg::Flag(key));
        }
        Err(input
            .error("expected a method, a \"/path\" string or an option like `auth = \"admin\"`"))
    }
}

const USAGE: &str = "expected `#[route(method, \"/path\")]`, e.g. `#[route(get, \"/items/{id}\", auth = \"admin\")]`";
const OPTIONS: &str = "auth, permission, status";

/// Parses one `#[route]` attribute, reporting every problem into `errors`.
pub(crate) fn parse(attr: &Attribute, errors: &mut Errors) -> Option<RouteArgs> {
    let raw = match &attr.meta {
        syn::Meta::List(_) => {
            attr.parse_args_with(Punctuated::<RawArg, Token![,]>::parse_terminated)
        }
        _ => Err(syn::Error::new(attr.path().span(), USAGE)),
    };
    let raw = match raw {
        Ok(raw) => raw,
        Err(error) => {
            errors.push(error);
            return None;
        }
    };
    let mut items = raw.into_iter();

    let method = match items.next() {
        Some(RawArg::Flag(ident)) => HttpMethod::from_ident(&ident)
            .map_err(|e| errors.push(e))
            .ok(),
        Some(RawArg::Str(path)) => {
            errors.error(path.span(), format!("the method comes first: {USAGE}"));
            return None;
        }
        Some(RawArg::KeyValue { key, .. }) => {
            errors.error(key.span(), USAGE);
            return None;
        }
        None => {
            errors.error(attr.path().span(), USAGE);
            return None;
        }
    };
    let path = match items.next() {
        Some(RawArg::Str(path)) => Some(path),
        Some(RawArg::Flag(ident)) => {
            errors.error(
                ident.span(),
                format!("expected the route path as a string after the method; {USAGE}"),
            );
            None
        }
        Some(RawArg::KeyValue { key, .. }) => {
            errors.error(
                key.span(),
                format!("expected the route path as a string after the method; {USAGE}"),
            );
            None
        }
        None => {
            errors.error(
                attr.path().span(),
                format!("missing the route path; {USAGE}"),
            );
            None
        }
    };

    let mut auth: Option<(Span, AuthArg)> = None;
    let mut permission: Option<(Span, LitStr)> = None;
    let mut status: Option<(Span, u16)> = None;
    for item in items {
        let (key, value) = match item {
            RawArg::Flag(key) => (key, None),
            RawArg::KeyValue { key, value } => (key, Some(value)),
            RawArg::Str(lit) => {
                errors.error(
                    lit.span(),
                    "unexpected string: options are written `name = value`",
                );
                continue;
            }
        };
        match key.to_string().as_str() {
            "auth" => {
                if let Some((previous, _)) = &auth {
                    errors.duplicate(key.span(), "`auth` is given twice", *previous, "`auth` first given here");
                    continue;
                }
                let arg = match value {
                    None => Some(AuthArg::SignedIn),
                    Some(value) => roles(&value, errors).map(AuthArg::Roles),
                };
                if let Some(arg) = arg {
                    auth = Some((key.span(), arg));
                }
            }
            "permission" => {
                if let Some((previous, _)) = &permission {
                    errors.duplicate(
                        key.span(),
                        "`permission` is given twice",
                        *previous,
                        "`permission` first given here",
                    );
                    continue;
                }
                match value {
                    Some(value) => {
                        if let Some(lit) = access_name(&value, Access::Permission, errors) {
                            permission = Some((key.span(), lit));
                        }
                    }
                    None => errors.error(key.span(), "`permission` needs a name: `permission = \"items:delete\"`"),
                }
            }
            "status" => {
                if let Some((previous, _)) = &status {
                    errors.duplicate(key.span(), "`status` is given twice", *previous, "`status` first given here");
                    continue;
                }
                if let Some(code) = success_status(&key, value.as_ref(), errors) {
                    status = Some((key.span(), code));
                }
            }
            "status_code" | "code" => errors.error(
                key.span(),
                format!("unknown option `{key}`: write `status = 201`"),
            ),
            "role" | "roles" => errors.error(
                key.span(),
                format!("unknown option `{key}`: roles are given with `auth = \"admin\"` or `auth = [\"a\", \"b\"]`"),
            ),
            "permissions" | "perm" => errors.error(
                key.span(),
                format!("unknown option `{key}`: write `permission = \"name\"`"),
            ),
            "cached" | "cache" | "ttl" => errors.error(
                key.span(),
                format!("unknown option `{key}`: caching is its own attribute, `#[cached(ttl = 300)]`"),
            ),
            "get" | "post" | "put" | "patch" | "delete" => errors.error(
                key.span(),
                "a route has one method; declare another `#[route]` on another function",
            ),
            other => errors.error(key.span(), format!("unknown option `{other}`; expected one of {OPTIONS}")),
        }
    }

    Some(RouteArgs {
        method: method?,
        path: path?,
        auth: auth.map(|(_, arg)| arg),
        permission: permission.map(|(_, lit)| lit),
        status: status.map(|(_, code)| code),
    })
}

/// `status = 201`: a success status (200 to 299) as an integer literal.
fn success_status(key: &Ident, value: Option<&Expr>, errors: &mut Errors) -> Option<u16> {
    const HELP: &str =
        "`status` takes the success status as a number from 200 to 299, e.g. `status = 201`";
    let Some(value) = value else {
        errors.error(key.span(), HELP);
        return None;
    };
    let code = match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => int.base10_parse::<u16>().ok(),
        _ => None,
    };
    let Some(code) = code else {
        errors.error(value.span(), HELP);
        return None;
    };
    match xcore_rules::status::success(code) {
        Ok(()) => Some(code),
        Err(invalid) => {
            errors.error(value.span(), invalid);
            None
        }
    }
}

#[derive(Clone, Copy)]
enum Access {
    Role,
    Permission,
}

/// A role or permission name as a string literal, checked by the rule the
/// admin API applies when it stores one.
fn access_name(value: &Expr, what: Access, errors: &mut Errors) -> Option<LitStr> {
    type Rule = fn(&str) -> Result<(), xcore_rules::Invalid>;
    let (what, rule): (&str, Rule) = match what {
        Access::Role => ("role", xcore_rules::name::role),
        Access::Permission => ("permission", xcore_rules::name::permission),
    };
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => match rule(&lit.value()) {
            Ok(()) => Some(lit.clone()),
            Err(invalid) => {
                errors.error(lit.span(), invalid);
                None
            }
        },
        other => {
            errors.error(
                other.span(),
                format!("expected the {what} name as a string, e.g. \"admin\""),
            );
            None
        }
    }
}

fn roles(value: &Expr, errors: &mut Errors) -> Option<Vec<LitStr>> {
    match value {
        Expr::Array(ExprArray { elems, .. }) => {
            if elems.is_empty() {
                errors.error(
                    value.span(),
                    "the role list is empty: name at least one role, or write plain `auth` for any signed-in user",
                );
                return None;
            }
            let roles: Vec<_> = elems
                .iter()
                .filter_map(|e| access_name(e, Access::Role, errors))
                .collect();
            (roles.len() == elems.len()).then_some(roles)
        }
        other => access_name(other, Access::Role, errors).map(|lit| vec![lit]),
    }
}
