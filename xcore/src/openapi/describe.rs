//! How request extractors and response types describe themselves, and the
//! probes `#[route]` uses so that a type without a description is simply
//! left out of the document instead of failing to compile.

use std::marker::PhantomData;

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Html;
use axum::{Form, Json};
use bytes::Bytes;
use schemars::JsonSchema;

use super::Operation;

/// A request extractor that contributes to the API document.
///
/// Implemented for `Json<T>`, `Form<T>`, `Query<T>` and `Path<T>` when `T`
/// derives [`schemars::JsonSchema`], and for `String` (a text body) and
/// `Bytes` (any body); implement it for your own extractors.
///
/// ```
/// use axum::extract::FromRequestParts;
/// use axum::http::request::Parts;
/// use xcore::openapi::{Operation, OperationInput};
///
/// /// The `x-tenant` header.
/// struct Tenant(String);
///
/// impl<S: Send + Sync> FromRequestParts<S> for Tenant {
///     type Rejection = xcore::Error;
///     async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
///         let value = parts.headers.get("x-tenant").and_then(|v| v.to_str().ok());
///         value
///             .map(|v| Tenant(v.to_owned()))
///             .ok_or_else(|| xcore::Error::BadRequest("the x-tenant header is missing".into()))
///     }
/// }
///
/// impl OperationInput for Tenant {
///     fn describe(op: &mut Operation<'_>) {
///         let schema = op.schema::<String>();
///         op.header_parameter("x-tenant", schema, true);
///     }
/// }
/// ```
pub trait OperationInput {
    /// Adds what this extractor reads to `op`.
    fn describe(op: &mut Operation<'_>);
}

/// A response type that contributes to the API document.
///
/// Implemented for `Json<T>` (`T: JsonSchema`), `Html<T>`, `String`,
/// `&'static str`, `Bytes`, `()`, `StatusCode`, `(StatusCode, T)` and
/// `Result<T, E>` (the success side); implement it for your own responses.
///
/// ```
/// use axum::http::{StatusCode, header};
/// use axum::response::{IntoResponse, Response};
/// use xcore::openapi::{Operation, OperationOutput};
///
/// /// A CSV export.
/// struct Csv(String);
///
/// impl IntoResponse for Csv {
///     fn into_response(self) -> Response {
///         ([(header::CONTENT_TYPE, "text/csv")], self.0).into_response()
///     }
/// }
///
/// impl OperationOutput for Csv {
///     fn describe(op: &mut Operation<'_>) {
///         op.response_body("text/csv", serde_json::json!({"type": "string"}))
///             .response_status(StatusCode::OK);
///     }
/// }
/// ```
pub trait OperationOutput {
    /// Adds the successful response to `op`.
    fn describe(op: &mut Operation<'_>);
}

impl<T: JsonSchema> OperationInput for Json<T> {
    fn describe(op: &mut Operation<'_>) {
        let schema = op.schema::<T>();
        op.request_body("application/json", schema);
    }
}

impl<T: JsonSchema> OperationInput for Form<T> {
    fn describe(op: &mut Operation<'_>) {
        let schema = op.schema::<T>();
        op.request_body("application/x-www-form-urlencoded", schema);
    }
}

impl<T: JsonSchema> OperationInput for Query<T> {
    fn describe(op: &mut Operation<'_>) {
        op.query_parameters::<T>();
    }
}

impl<T: JsonSchema> OperationInput for Path<T> {
    fn describe(op: &mut Operation<'_>) {
        op.path_parameters::<T>();
    }
}

impl<E: OperationInput> OperationInput for crate::validation::Valid<E> {
    fn describe(op: &mut Operation<'_>) {
        E::describe(op);
    }
}

impl OperationInput for String {
    fn describe(op: &mut Operation<'_>) {
        op.request_body("text/plain", serde_json::json!({"type": "string"}));
    }
}

impl OperationInput for Bytes {
    fn describe(op: &mut Operation<'_>) {
        op.request_body(
            "application/octet-stream",
            serde_json::json!({"type": "string", "contentMediaType": "application/octet-stream"}),
        );
    }
}

impl<T: JsonSchema> OperationOutput for Json<T> {
    fn describe(op: &mut Operation<'_>) {
        let schema = op.schema::<T>();
        op.response_body("application/json", schema)
            .response_status(StatusCode::OK);
    }
}

impl<T> OperationOutput for Html<T> {
    fn describe(op: &mut Operation<'_>) {
        op.response_body("text/html", serde_json::json!({"type": "string"}))
            .response_status(StatusCode::OK);
    }
}

impl OperationOutput for String {
    fn describe(op: &mut Operation<'_>) {
        op.response_body("text/plain", serde_json::json!({"type": "string"}))
            .response_status(StatusCode::OK);
    }
}

impl OperationOutput for Bytes {
    fn describe(op: &mut Operation<'_>) {
        op.response_body(
            "application/octet-stream",
            serde_json::json!({"type": "string", "contentMediaType": "application/octet-stream"}),
        )
        .response_status(StatusCode::OK);
    }
}

impl OperationOutput for &'static str {
    fn describe(op: &mut Operation<'_>) {
        <String as OperationOutput>::describe(op);
    }
}

impl OperationOutput for () {
    fn describe(op: &mut Operation<'_>) {
        op.response_status(StatusCode::OK);
    }
}

impl OperationOutput for StatusCode {
    fn describe(op: &mut Operation<'_>) {
        op.response_status_varies();
    }
}

impl<T: OperationOutput> OperationOutput for (StatusCode, T) {
    fn describe(op: &mut Operation<'_>) {
        T::describe(op);
        op.response_status_varies();
    }
}

impl<T: OperationOutput, E> OperationOutput for Result<T, E> {
    fn describe(op: &mut Operation<'_>) {
        T::describe(op);
    }
}

/// Stands for a handler's argument or return type in code `#[route]`
/// generates. Method resolution picks [`DescribeInput`] when the type
/// implements [`OperationInput`] (the impl is on `&Probe<T>`, found first)
/// and falls back to [`SkipInput`] (on `Probe<T>`, one auto-deref later)
/// when it does not: autoref specialisation, which works here because the
/// generated code names concrete types.
#[doc(hidden)]
pub struct Probe<T: ?Sized>(PhantomData<*const T>);

impl<T: ?Sized> Probe<T> {
    /// The probe for `T`.
    pub const NEW: Self = Probe(PhantomData);
}

impl<T: ?Sized> Clone for Probe<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for Probe<T> {}

#[doc(hidden)]
pub trait DescribeInput {
    fn describe_input(self, op: &mut Operation<'_>);
}

impl<T: OperationInput + ?Sized> DescribeInput for &Probe<T> {
    fn describe_input(self, op: &mut Operation<'_>) {
        T::describe(op);
    }
}

#[doc(hidden)]
pub trait SkipInput {
    fn describe_input(self, op: &mut Operation<'_>);
}

impl<T: ?Sized> SkipInput for Probe<T> {
    fn describe_input(self, _: &mut Operation<'_>) {}
}

#[doc(hidden)]
pub trait DescribeOutput {
    fn describe_output(self, op: &mut Operation<'_>);
}

impl<T: OperationOutput + ?Sized> DescribeOutput for &Probe<T> {
    fn describe_output(self, op: &mut Operation<'_>) {
        T::describe(op);
    }
}

#[doc(hidden)]
pub trait SkipOutput {
    fn describe_output(self, op: &mut Operation<'_>);
}

impl<T: ?Sized> SkipOutput for Probe<T> {
    fn describe_output(self, _: &mut Operation<'_>) {}
}

#[cfg(test)]
mod tests {
    use schemars::generate::SchemaSettings;
    use serde_json::json;

    use super::*;

    #[derive(serde::Deserialize, JsonSchema)]
    struct Documented {
        #[allow(dead_code)]
        name: String,
    }

    #[allow(dead_code)]
    struct Undocumented;

    fn probe(
        f: fn(&mut Operation<'_>),
    ) -> (
        Option<serde_json::Map<String, serde_json::Value>>,
        Option<StatusCode>,
        bool,
    ) {
        let mut generator = SchemaSettings::draft2020_12().into_generator();
        let mut op = Operation::new(&mut generator, vec!["id".into()]);
        f(&mut op);
        (op.request.clone(), op.status, op.status_varies)
    }

    // The borrow is the point: it is what lets the specialised impl win.
    #[allow(clippy::needless_borrow)]
    #[test]
    fn the_probe_uses_an_impl_when_there_is_one_and_skips_otherwise() {
        let (request, ..) = probe(|op| (&Probe::<Json<Documented>>::NEW).describe_input(op));
        assert_eq!(
            request.expect("documented")["application/json"],
            json!({"schema": {"$ref": "#/$defs/Documented"}})
        );
        let (request, ..) = probe(|op| (&Probe::<Json<Undocumented>>::NEW).describe_input(op));
        assert!(request.is_none());
        let (request, ..) = probe(|op| (&Probe::<String>::NEW).describe_input(op));
        assert!(request.expect("a text body")["text/plain"].is_object());
        let (_, status, varies) = probe(|op| {
            (&Probe::<Result<(StatusCode, Json<Documented>), ()>>::NEW).describe_output(op)
        });
        assert_eq!((status, varies), (Some(StatusCode::OK), true));
        let (_, status, varies) = probe(|op| (&Probe::<Undocumented>::NEW).describe_output(op));
        assert_eq!((status, varies), (None, false));
    }
}
