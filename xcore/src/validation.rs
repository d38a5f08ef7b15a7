//! Constraints declared on request types, checked before the handler runs,
//! and every refused input answered with one 422 body that lists each wrong
//! field.
//!
//! Constraints are [`validator`]'s attributes. schemars reads the same
//! attributes, so one line both documents and checks:
//!
//! ```
//! use serde::Deserialize;
//! use schemars::JsonSchema;
//! use validator::Validate;
//!
//! #[derive(Deserialize, JsonSchema, Validate)]
//! struct NewProduct {
//!     #[validate(length(min = 1, max = 100))]
//!     name: String,
//!     #[validate(range(min = 0))]
//!     price_cents: i64,
//! }
//! ```
//!
//! `#[route]` checks every `Json<T>`, `Form<T>`, `Query<T>` and `Path<T>`
//! argument whose `T` implements [`Validate`]; a hand-written route asks for
//! the same with [`Valid`]. What a client is told is [`Error::InvalidFields`]:
//!
//! ```json
//! {"error": {"code": "validation_failed", "message": "2 invalid fields: name, price_cents",
//!   "fields": [{"path": "name", "code": "length", "message": "must have 1 to 100 characters"},
//!              {"path": "price_cents", "code": "range", "message": "must be at least 0"}]}}
//! ```
//!
//! The input that failed to *parse* (a string where a number goes, a
//! missing or unknown field, `/items/abc` for an integer id) is answered in
//! the same shape, with the path serde reports.

use std::any::Any;
use std::borrow::Cow;

use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use bytes::Bytes;
use serde::de::DeserializeOwned;
pub use validator::Validate;
use validator::{ValidationErrors, ValidationErrorsKind};

use crate::error::Error;
pub use crate::error::FieldError;

/// An extractor whose value is checked against its type's constraints:
/// `Valid<Json<T>>`, `Valid<Form<T>>`, `Valid<Query<T>>`, `Valid<Path<T>>`
/// with `T: Validate`. A refusal is [`Error::InvalidFields`] (422).
///
/// `#[route]` does this by itself for every such argument; `Valid` is for
/// routes written by hand.
///
/// ```
/// use axum::routing::post;
/// use serde::Deserialize;
/// use validator::Validate;
/// use xcore::prelude::*;
/// use xcore::validation::Valid;
///
/// #[derive(Deserialize, Validate)]
/// struct Signup {
///     #[validate(email)]
///     email: String,
/// }
///
/// async fn signup(Valid(Json(body)): Valid<Json<Signup>>) -> String {
///     body.email
/// }
///
/// let router: axum::Router = axum::Router::new().route("/signup", post(signup));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Valid<E>(pub E);

impl<S, T> FromRequest<S> for Valid<Json<T>>
where
    S: Send + Sync,
    T: Validate + DeserializeOwned,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let JsonArg(Json(value)) = JsonArg::<Json<T>>::from_request(request, state).await?;
        check(&value).map_err(IntoResponse::into_response)?;
        Ok(Valid(Json(value)))
    }
}

/// A JSON body as `#[route]` reads a `Json<T>` argument: as axum's `Json`
/// does (same content types, same body limit), with refusals as the 422
/// naming the field — and a number with no fractional part (`4990.0`)
/// accepted where an integer goes, as JSON Schema counts it an integer
/// (so a body the document calls valid is accepted; Pydantic does the
/// same).
#[doc(hidden)]
pub struct JsonArg<E>(pub E);

impl<S, T> FromRequest<S> for JsonArg<Json<T>>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        if !json_content_type(request.headers()) {
            return Err(crate::error::json_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                crate::error::code_of(StatusCode::UNSUPPORTED_MEDIA_TYPE),
                "expected a request with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match Json::<T>::from_bytes(&bytes) {
            Ok(json) => Ok(JsonArg(json)),
            Err(rejection) => match integral_floats_as_integers(&rejection, &bytes) {
                Some(Ok(value)) => Ok(JsonArg(Json(value))),
                Some(Err(error)) => Err(Error::InvalidFields(vec![serde_field(
                    &error.path().to_string(),
                    json_message(error.inner()),
                )])
                .into_response()),
                None => Err(rejected(rejection, &[])),
            },
        }
    }
}

/// `application/json` or `application/<anything>+json`, parameters
/// allowed: what axum's `Json` accepts.
fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json")
            || subtype
                .rsplit_once('+')
                .is_some_and(|(_, suffix)| suffix.eq_ignore_ascii_case("json")))
}

/// The second try of a body refused because a float stood where an integer
/// goes: the body with every integral float (`4990.0`, `1e3`) written as an
/// integer, deserialised again. `None` when that was not the refusal (the
/// first answer stands).
fn integral_floats_as_integers<T: DeserializeOwned>(
    rejection: &JsonRejection,
    bytes: &[u8],
) -> Option<Result<T, serde_path_to_error::Error<serde_json::Error>>> {
    let error = inner::<serde_path_to_error::Error<serde_json::Error>>(rejection)?;
    if !error
        .inner()
        .to_string()
        .starts_with("invalid type: floating point")
    {
        return None;
    }
    let mut value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    if !integers_in_place(&mut value) {
        return None;
    }
    Some(serde_path_to_error::deserialize(value))
}

/// Rewrites integral floats as integers; whether any was.
fn integers_in_place(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Number(number) if number.is_f64() => {
            let float = number.as_f64().unwrap_or(f64::NAN);
            // Within ±2^53 every integer is exact in an f64.
            if float.fract() == 0.0 && float.abs() <= 9_007_199_254_740_992.0 {
                *value = Value::from(float as i64);
                true
            } else {
                false
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |any, item| integers_in_place(item) | any),
        Value::Object(map) => map
            .values_mut()
            .fold(false, |any, item| integers_in_place(item) | any),
        _ => false,
    }
}

impl<S, T> FromRequest<S> for Valid<Form<T>>
where
    S: Send + Sync,
    T: Validate + 'static,
    Form<T>: FromRequest<S, Rejection = FormRejection>,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let Form(value) = Form::<T>::from_request(request, state)
            .await
            .map_err(|rejection| rejected(rejection, &[]))?;
        check(&value).map_err(IntoResponse::into_response)?;
        Ok(Valid(Form(value)))
    }
}

impl<S, T> FromRequestParts<S> for Valid<Query<T>>
where
    S: Send + Sync,
    T: Validate + 'static,
    Query<T>: FromRequestParts<S, Rejection = QueryRejection>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let Query(value) = Query::<T>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| rejected(rejection, &[]))?;
        check(&value).map_err(IntoResponse::into_response)?;
        Ok(Valid(Query(value)))
    }
}

impl<S, T> FromRequestParts<S> for Valid<Path<T>>
where
    S: Send + Sync,
    T: Validate + 'static,
    Path<T>: FromRequestParts<S, Rejection = PathRejection>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let Path(value) = Path::<T>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| rejected(rejection, &[]))?;
        check(&value).map_err(IntoResponse::into_response)?;
        Ok(Valid(Path(value)))
    }
}

/// `value` against its constraints: every violation, as one 422.
///
/// ```
/// use validator::Validate;
///
/// #[derive(Validate)]
/// struct Range {
///     #[validate(range(min = 1))]
///     from: u32,
///     #[validate(range(max = 100))]
///     to: u32,
/// }
///
/// let err = xcore::validation::check(&Range { from: 0, to: 200 }).unwrap_err();
/// let xcore::Error::InvalidFields(fields) = err else { panic!() };
/// assert_eq!(fields.len(), 2);
/// ```
pub fn check<T: Validate + ?Sized>(value: &T) -> Result<(), Error> {
    value
        .validate()
        .map_err(|errors| Error::InvalidFields(fields_of(&errors)))
}

/// Every violation in `errors`, with its path (`items[2].nom`), in path
/// order.
pub fn fields_of(errors: &ValidationErrors) -> Vec<FieldError> {
    let mut fields = Vec::new();
    collect(errors, "", &mut fields);
    fields.sort_by(|a, b| a.path.cmp(&b.path));
    fields
}

fn collect(errors: &ValidationErrors, prefix: &str, into: &mut Vec<FieldError>) {
    for (name, kind) in errors.errors() {
        let path = if name == "__all__" {
            prefix.to_owned()
        } else {
            join(prefix, name)
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for error in list {
                    into.push(FieldError {
                        path: path.clone(),
                        code: error.code.clone(),
                        message: error
                            .message
                            .as_ref()
                            .map_or_else(|| default_message(error), |m| m.to_string()),
                    });
                }
            }
            ValidationErrorsKind::Struct(inner) => collect(inner, &path, into),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    collect(inner, &format!("{path}[{index}]"), into);
                }
            }
        }
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

/// What a rule says when its attribute gave no `message`.
fn default_message(error: &validator::ValidationError) -> String {
    let param = |name: &str| error.params.get(name).map(|value| value.to_string());
    let (min, max, equal) = (param("min"), param("max"), param("equal"));
    match error.code.as_ref() {
        "length" => {
            // The value is in the parameters: a list counts items.
            let unit = match error.params.get("value") {
                Some(serde_json::Value::Array(_)) => "items",
                _ => "characters",
            };
            match (equal, min, max) {
                (Some(n), _, _) => format!("must have exactly {n} {unit}"),
                (None, Some(min), Some(max)) => format!("must have {min} to {max} {unit}"),
                (None, Some(min), None) => format!("must have at least {min} {unit}"),
                (None, None, Some(max)) => format!("must have at most {max} {unit}"),
                _ => "has the wrong length".into(),
            }
        }
        "range" => match (min, max, param("exclusive_min"), param("exclusive_max")) {
            (Some(min), Some(max), _, _) => format!("must be between {min} and {max}"),
            (Some(min), None, _, _) => format!("must be at least {min}"),
            (None, Some(max), _, _) => format!("must be at most {max}"),
            (None, None, Some(min), _) => format!("must be greater than {min}"),
            (None, None, None, Some(max)) => format!("must be less than {max}"),
            _ => "is out of range".into(),
        },
        "email" => "must be an e-mail address".into(),
        "url" => "must be a URL".into(),
        "regex" => "does not have the expected form".into(),
        "required" => "is required".into(),
        "contains" => "does not contain what it must".into(),
        "does_not_contain" => "contains what it must not".into(),
        "must_match" => "does not match the field it must match".into(),
        other => format!("failed the `{other}` rule"),
    }
}

/// The 422 for an extractor's rejection, when it is one of axum's body,
/// query or path rejections; any other rejection answers as it would
/// have. `params` are the route's path parameters, to name the one that
/// failed when the rejection does not.
/// A refused input as the answer (for `#[route]`'s generated code).
#[doc(hidden)]
pub fn refused(error: Error) -> Response {
    error.into_response()
}

#[doc(hidden)]
pub fn rejected<R: IntoResponse + 'static>(rejection: R, params: &[&str]) -> Response {
    let any: &dyn Any = &rejection;
    let fields = if let Some(rejection) = any.downcast_ref::<JsonRejection>() {
        json_fields(rejection)
    } else if let Some(rejection) = any.downcast_ref::<QueryRejection>() {
        match rejection {
            QueryRejection::FailedToDeserializeQueryString(_) => form_fields(rejection),
            _ => None,
        }
    } else if let Some(rejection) = any.downcast_ref::<FormRejection>() {
        match rejection {
            FormRejection::FailedToDeserializeForm(_)
            | FormRejection::FailedToDeserializeFormBody(_) => form_fields(rejection),
            _ => None,
        }
    } else if let Some(rejection) = any.downcast_ref::<PathRejection>() {
        path_fields(rejection, params)
    } else {
        None
    };
    match fields {
        Some(fields) => Error::InvalidFields(fields).into_response(),
        None => rejection.into_response(),
    }
}

/// A JSON body that parsed but does not fit the type. A syntax error
/// stays axum's 400: there is no field to name.
fn json_fields(rejection: &JsonRejection) -> Option<Vec<FieldError>> {
    let JsonRejection::JsonDataError(_) = rejection else {
        return None;
    };
    let error = inner::<serde_path_to_error::Error<serde_json::Error>>(rejection)?;
    Some(vec![serde_field(
        &error.path().to_string(),
        json_message(error.inner()),
    )])
}

/// serde_json's message without the position it ends with (the path says
/// more).
fn json_message(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rsplit_once(" at line ") {
        Some((text, _)) => text.to_owned(),
        None => message,
    }
}

fn form_fields(rejection: &(dyn std::error::Error + 'static)) -> Option<Vec<FieldError>> {
    let error = inner::<serde_path_to_error::Error<serde_urlencoded::de::Error>>(rejection)?;
    Some(vec![serde_field(
        &error.path().to_string(),
        error.inner().to_string(),
    )])
}

/// The error a rejection wraps (axum keeps the deserializer's error two
/// `source`s down: rejection → `axum::Error` → the error).
fn inner<'a, E: std::error::Error + 'static>(
    rejection: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut source = rejection.source();
    while let Some(error) = source {
        if let Some(found) = error.downcast_ref::<E>() {
            return Some(found);
        }
        source = error.source();
    }
    None
}

/// One of serde's own errors at `path`, coded by kind. A missing or unknown
/// field is reported by serde on the object that lacks or holds it: the
/// field's name is added to the path (serde_path_to_error has already
/// added an unknown one).
fn serde_field(path: &str, message: impl Into<String>) -> FieldError {
    let message = message.into();
    let message = message.as_str();
    let path = if path == "." { "" } else { path };
    let quoted = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
    };
    let (path, code) = if let Some(name) = quoted("missing field `") {
        (join(path, &name), "missing")
    } else if let Some(name) = quoted("unknown field `") {
        // serde_path_to_error has already stepped into the unknown key.
        let already = path == name || path.ends_with(&format!(".{name}"));
        let path = if already {
            path.to_owned()
        } else {
            join(path, &name)
        };
        (path, "unknown_field")
    } else if message.starts_with("invalid type") {
        (path.to_owned(), "type")
    } else {
        (path.to_owned(), "invalid")
    };
    FieldError {
        path,
        code: Cow::Borrowed(code),
        message: message.to_owned(),
    }
}

fn path_fields(rejection: &PathRejection, params: &[&str]) -> Option<Vec<FieldError>> {
    use axum::extract::path::ErrorKind;
    let PathRejection::FailedToDeserializePathParams(error) = rejection else {
        return None;
    };
    let field = |key: &str, code: &'static str, message: String| FieldError {
        path: key.to_owned(),
        code: Cow::Borrowed(code),
        message,
    };
    let unnamed = || match params {
        [only] => (*only).to_owned(),
        _ => String::new(),
    };
    let parse = |expected: &str| format!("must be a value of type `{expected}`");
    let found = match error.kind() {
        ErrorKind::ParseErrorAtKey {
            key, expected_type, ..
        } => field(key, "type", parse(expected_type)),
        ErrorKind::ParseErrorAtIndex {
            index,
            expected_type,
            ..
        } => field(
            params.get(*index).copied().unwrap_or_default(),
            "type",
            parse(expected_type),
        ),
        ErrorKind::ParseError { expected_type, .. } => {
            field(&unnamed(), "type", parse(expected_type))
        }
        ErrorKind::InvalidUtf8InPathParam { key } => {
            field(key, "invalid", "is not valid UTF-8".into())
        }
        ErrorKind::DeserializeError { key, message, .. } => field(key, "invalid", message.clone()),
        ErrorKind::Message(message) => field(&unnamed(), "invalid", message.clone()),
        // The route's own mistake (a type that cannot hold the path), not
        // the client's: left to axum's 500.
        _ => return None,
    };
    Some(vec![found])
}

/// Stands for an argument's type in code `#[route]` generates; method
/// resolution picks [`CheckArg`] when the type is a `Json`, `Form`,
/// `Query` or `Path` of a `T: Validate` (the impls on `&ValidationProbe`,
/// found first) and [`SkipCheck`] otherwise — autoref specialisation, as
/// for the API document's probes.
#[doc(hidden)]
pub struct ValidationProbe<T: ?Sized>(std::marker::PhantomData<*const T>);

impl<T: ?Sized> ValidationProbe<T> {
    /// The probe for `T`.
    pub const NEW: Self = ValidationProbe(std::marker::PhantomData);
}

impl<T: ?Sized> Clone for ValidationProbe<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for ValidationProbe<T> {}

#[doc(hidden)]
pub trait CheckArg<A> {
    fn check_arg(self, arg: &A) -> Result<(), Error>;
}

macro_rules! check_arg {
    ($($extractor:ident),*) => {$(
        impl<T: Validate> CheckArg<$extractor<T>> for &ValidationProbe<$extractor<T>> {
            #[inline]
            fn check_arg(self, arg: &$extractor<T>) -> Result<(), Error> {
                check(&arg.0)
            }
        }
    )*};
}

check_arg!(Json, Form, Query, Path);

#[doc(hidden)]
pub trait SkipCheck<A> {
    fn check_arg(self, arg: &A) -> Result<(), Error>;
}

impl<A> SkipCheck<A> for ValidationProbe<A> {
    #[inline(always)]
    fn check_arg(self, _: &A) -> Result<(), Error> {
        Ok(())
    }
}
