//! The OpenAPI 3.1 description of the app, built from the same route table
//! that mounts the routes: paths, methods, typed parameters, tags, the
//! handlers' doc comments, request and response bodies (for types deriving
//! [`schemars::JsonSchema`]: opt-in per type), the success status, and —
//! from the guard that enforces it — the security requirement with the roles
//! and permissions it needs. Served at `GET /openapi.json`, with an
//! interactive page at `GET /docs` (`[openapi]` in the configuration moves
//! or turns off either).
//!
//! ```
//! use schemars::JsonSchema;
//! use xcore::prelude::*;
//! use xcore::testing::TestClient;
//!
//! #[derive(serde::Deserialize, JsonSchema)]
//! struct NewItem { name: String }
//!
//! #[derive(serde::Serialize, JsonSchema)]
//! struct Item { id: u64, name: String }
//!
//! pub struct Items;
//!
//! #[plugin(prefix = "/items", tags = ["items"])]
//! impl Items {
//!     /// Adds an item.
//!     #[route(post, "/", auth, status = 201)]
//!     async fn add(Json(new): Json<NewItem>) -> Json<Item> {
//!         Json(Item { id: 1, name: new.name })
//!     }
//!
//!     /// Deletes an item.
//!     #[route(delete, "/{id}", auth = "admin", status = 204)]
//!     async fn remove(Path(id): Path<u64>) {}
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> xcore::Result<()> {
//! let client = TestClient::new(App::new(xcore::testing::config())?.plugin(Items)).await?;
//! let doc: serde_json::Value = client.get("/openapi.json").send().await.json();
//! let add = &doc["paths"]["/items/"]["post"];
//! assert_eq!(
//!     add["requestBody"]["content"]["application/json"]["schema"]["$ref"],
//!     "#/components/schemas/NewItem"
//! );
//! assert_eq!(
//!     add["responses"]["201"]["content"]["application/json"]["schema"]["$ref"],
//!     "#/components/schemas/Item"
//! );
//! let delete = &doc["paths"]["/items/{id}"]["delete"];
//! assert_eq!(delete["summary"], "Deletes an item.");
//! assert_eq!(delete["parameters"][0]["schema"]["type"], "integer");
//! assert_eq!(delete["security"][0], serde_json::json!({"bearerAuth": []}));
//! assert_eq!(delete["x-xcore-roles"], serde_json::json!(["admin"]));
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use schemars::SchemaGenerator;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::plugin::{MountedRoute, PluginMeta};

mod describe;
mod operation;
mod ui;

#[doc(hidden)]
pub use describe::{DescribeInput, DescribeOutput, Probe, SkipInput, SkipOutput};
pub use describe::{OperationInput, OperationOutput};
pub use operation::Operation;
pub(crate) use ui::{check_config, reserved_paths, router};

/// Schemas land in `components/schemas`, in the JSON Schema dialect of
/// OpenAPI 3.1 (2020-12), without a `$schema` on each.
fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .with(|settings| {
            settings.definitions_path = "/components/schemas".into();
            settings.meta_schema = None;
        })
        .into_generator()
}

/// The document for these plugins' routes.
pub(crate) fn document(config: &Config, metas: &[PluginMeta], routes: &[MountedRoute]) -> Value {
    let mut generator = generator();
    let error_schema = generator
        .subschema_for::<crate::error::Body<'static>>()
        .to_value();
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut operation_ids = BTreeSet::new();
    let token_url = token_url(config, metas);
    // Either scheme yields the same bearer token.
    let security = match token_url {
        Some(_) => json!([{"bearerAuth": []}, {"apiKey": []}, {"oauth2": []}]),
        None => json!([{"bearerAuth": []}, {"apiKey": []}]),
    };
    for route in routes {
        let (path, parameters) = openapi_path(&route.path);
        let method = route.info.method.as_http().as_str().to_lowercase();
        let operation = operation(route, &parameters, &mut generator, metas, &security);
        let operation = with_unique_id(operation, &mut operation_ids, &method, &path);
        paths.entry(path).or_default().insert(method, operation);
    }
    let mut schemas = generator.take_definitions(true);
    schemas.sort_keys();
    for schema in schemas.values_mut() {
        new_password_lengths(schema, config);
    }

    let mut security_schemes = json!({
        "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        // Also accepted as `Authorization: Bearer xk_…`.
        "apiKey": {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "An API key from POST /auth/api-keys (`xk_…`)."
        }
    });
    if let Some(token_url) = token_url {
        // What lets `/docs` sign in with an e-mail and a password: the
        // OAuth2 password grant, which `/auth/login` accepts as a form.
        security_schemes["oauth2"] = json!({
            "type": "oauth2",
            "description": "E-mail (as username) and password, sent to the login endpoint.",
            "flows": {"password": {"tokenUrl": token_url, "scopes": {}}}
        });
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": config.openapi.title, "version": config.openapi.version},
        "tags": tags(metas),
        "paths": paths,
        "components": {
            "securitySchemes": security_schemes,
            "schemas": schemas,
            "responses": {
                "ClientError": error_response(&error_schema, "The request was refused; the body says why."),
                "Unauthorized": error_response(&error_schema, "Missing, invalid, expired or revoked bearer token."),
                "Forbidden": error_response(&error_schema, "Signed in, but without the required role or permission."),
                "ValidationFailed": error_response(&error_schema, "An input broke its constraints or did not parse: `error.fields` lists each one (`path`, `code`, `message`)."),
                "TooManyRequests": too_many_requests(&error_schema)
            }
        }
    })
}

/// The login endpoint of the built-in `auth` plugin, when it is mounted.
fn token_url(config: &Config, metas: &[PluginMeta]) -> Option<String> {
    let auth = metas.iter().find(|meta| meta.name == "auth")?;
    config
        .auth
        .endpoints
        .then(|| format!("{}/login", auth.prefix))
}

fn operation(
    route: &MountedRoute,
    path_names: &[String],
    generator: &mut SchemaGenerator,
    metas: &[PluginMeta],
    security: &Value,
) -> Map<String, Value> {
    let info = &route.info;
    let mut described = Operation::new(generator, path_names.to_vec());
    if let Some(describe) = info.describe {
        describe(&mut described);
    }
    let meta = metas.iter().find(|m| m.name == route.plugin);
    let tags: Vec<String> = match meta {
        Some(meta) if !meta.tags.is_empty() => meta.tags.iter().map(|t| t.to_string()).collect(),
        _ => vec![route.plugin.clone()],
    };
    let mut operation = Map::new();
    if !info.handler.is_empty() {
        operation.insert(
            "operationId".into(),
            json!(format!("{}_{}", route.plugin, info.handler).replace('-', "_")),
        );
    }
    operation.insert("tags".into(), json!(tags));
    if let Some(summary) = &info.summary {
        operation.insert("summary".into(), json!(summary));
    }
    if let Some(description) = &info.description {
        operation.insert("description".into(), json!(description));
    }
    let mut parameters: Vec<Value> = path_names
        .iter()
        .map(|name| {
            let schema = described
                .path_schemas
                .get(name)
                .cloned()
                .unwrap_or_else(|| json!({"type": "string"}));
            json!({"name": name, "in": "path", "required": true, "schema": schema})
        })
        .collect();
    parameters.append(&mut described.parameters);
    if !parameters.is_empty() {
        operation.insert("parameters".into(), json!(parameters));
    }
    if let Some(content) = described.request.take() {
        operation.insert(
            "requestBody".into(),
            json!({"required": true, "content": content}),
        );
    }

    let status = match (info.status, described.status_varies, described.status) {
        (Some(status), _, _) | (None, false, Some(status)) => Some(status),
        _ => None,
    };
    let mut success = json!({
        "description": status
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Success")
    });
    if let Some((media_type, schema)) = described.response.take()
        && status != Some(StatusCode::NO_CONTENT)
    {
        success["content"] = json!({media_type: {"schema": schema}});
    }
    let mut responses = Map::new();
    let key = status.map_or_else(|| "2XX".to_owned(), |s| s.as_u16().to_string());
    responses.insert(key, success);
    responses.insert(
        "4XX".into(),
        json!({"$ref": "#/components/responses/ClientError"}),
    );
    if operation.contains_key("parameters") || operation.contains_key("requestBody") {
        // What a refused input is answered with (`crate::validation`).
        responses.insert(
            "422".into(),
            json!({"$ref": "#/components/responses/ValidationFailed"}),
        );
    }
    let guard = &info.guard;
    if !guard.is_public() {
        responses.insert(
            "401".into(),
            json!({"$ref": "#/components/responses/Unauthorized"}),
        );
        responses.insert(
            "403".into(),
            json!({"$ref": "#/components/responses/Forbidden"}),
        );
        operation.insert("security".into(), security.clone());
        operation.insert(
            "x-xcore-roles".into(),
            json!(guard.roles().collect::<Vec<_>>()),
        );
        operation.insert(
            "x-xcore-permissions".into(),
            json!(guard.permissions().collect::<Vec<_>>()),
        );
    }
    // The cache tags a route's entries carry and those it invalidates:
    // what a client may expect to change together.
    if let Some(policy) = &info.cache
        && policy.tag_templates().len() > 0
    {
        operation.insert(
            "x-xcore-cache-tags".into(),
            json!(policy.tag_templates().collect::<Vec<_>>()),
        );
    }
    if !info.invalidates.is_empty() {
        operation.insert("x-xcore-invalidates".into(), json!(info.invalidates));
    }
    if !info.limits.is_empty() {
        responses.insert(
            "429".into(),
            json!({"$ref": "#/components/responses/TooManyRequests"}),
        );
        let limits: Vec<Value> = info
            .limits
            .iter()
            .map(|limit| {
                let keys: Vec<String> = limit
                    .keys()
                    .iter()
                    .map(|key| match key {
                        crate::rate_limit::LimitKey::User => "user".to_owned(),
                        crate::rate_limit::LimitKey::Ip => "ip".to_owned(),
                        crate::rate_limit::LimitKey::Param(name) => format!("{{{name}}}"),
                    })
                    .collect();
                json!({
                    "count": limit.count(),
                    "period_secs": limit.period().as_secs(),
                    "key": keys,
                })
            })
            .collect();
        operation.insert("x-xcore-rate-limits".into(), json!(limits));
    }
    operation.insert("responses".into(), Value::Object(responses));
    operation
}

/// The answer past a rate limit: the error, and when to come back.
fn too_many_requests(schema: &Value) -> Value {
    let text = json!({"type": "string"});
    json!({
        "description": "Too many requests: wait `Retry-After` seconds.",
        "headers": {
            "Retry-After": {"description": "Seconds until a request may pass.", "schema": {"type": "integer"}},
            "RateLimit": {"description": "The tightest limit's remaining requests (`r`) and seconds until it is whole again (`t`), IETF httpapi draft.", "schema": text},
            "RateLimit-Policy": {"description": "The route's limits: quota (`q`) per window in seconds (`w`).", "schema": text}
        },
        "content": {"application/json": {"schema": schema}}
    })
}

/// Operation ids must be unique: hand-written routes without a handler name
/// get one from method and path, and a repeated id gets a number.
fn with_unique_id(
    mut operation: Map<String, Value>,
    taken: &mut BTreeSet<String>,
    method: &str,
    path: &str,
) -> Value {
    let base = match operation.get("operationId").and_then(Value::as_str) {
        Some(id) => id.to_owned(),
        None => {
            let slug: String = path
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            format!("{method}{}", slug.trim_end_matches('_'))
        }
    };
    let mut id = base.clone();
    let mut n = 2;
    while !taken.insert(id.clone()) {
        id = format!("{base}_{n}");
        n += 1;
    }
    operation.insert("operationId".into(), json!(id));
    Value::Object(operation)
}

fn tags(metas: &[PluginMeta]) -> Vec<Value> {
    metas
        .iter()
        .flat_map(|meta| {
            let description = meta.description.as_deref();
            let names: Vec<String> = if meta.tags.is_empty() {
                vec![meta.name.to_string()]
            } else {
                meta.tags.iter().map(|t| t.to_string()).collect()
            };
            names.into_iter().map(move |name| match description {
                Some(d) => json!({"name": name, "description": d}),
                None => json!({"name": name}),
            })
        })
        .fold(Vec::new(), |mut unique: Vec<Value>, tag| {
            if !unique.iter().any(|t| t["name"] == tag["name"]) {
                unique.push(tag);
            }
            unique
        })
}

/// A new password's length comes from configuration, which a type's
/// attributes cannot name: the built-in bodies mark the field
/// (`x-xcore-new-password`) and the document puts the configured bounds in
/// the marker's place — the ones `Accounts` checks.
fn new_password_lengths(schema: &mut Value, config: &Config) {
    match schema {
        Value::Object(map) => {
            if map.remove("x-xcore-new-password").is_some() {
                map.insert("minLength".into(), json!(config.auth.password_min_length));
                map.insert(
                    "maxLength".into(),
                    json!(crate::accounts::MAX_PASSWORD_CHARS),
                );
            }
            map.values_mut()
                .for_each(|value| new_password_lengths(value, config));
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|value| new_password_lengths(value, config)),
        _ => {}
    }
}

fn error_response(schema: &Value, description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": schema}}
    })
}

/// axum's `/{*rest}` is OpenAPI's `/{rest}`; returns the path and its parameters.
fn openapi_path(path: &str) -> (String, Vec<String>) {
    let mut parameters = Vec::new();
    let segments: Vec<String> = path
        .split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => {
                    let name = name.trim_start_matches('*');
                    parameters.push(name.to_owned());
                    format!("{{{name}}}")
                }
                None => segment.to_owned(),
            },
        )
        .collect();
    (segments.join("/"), parameters)
}

#[cfg(test)]
mod tests {
    use super::openapi_path;

    #[test]
    fn paths_and_parameters() {
        assert_eq!(
            openapi_path("/items/{id}"),
            ("/items/{id}".into(), vec!["id".into()])
        );
        assert_eq!(
            openapi_path("/files/{*rest}"),
            ("/files/{rest}".into(), vec!["rest".into()])
        );
        assert_eq!(openapi_path("/hello/"), ("/hello/".into(), vec![]));
    }
}
