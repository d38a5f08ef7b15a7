//! The OpenAPI 3.1 description of the app, built from the same route table
//! that mounts the routes: paths, methods, path parameters, tags, the
//! handlers' doc comments, and — from the guard that enforces it — the
//! security requirement with the roles and permissions it needs. Served at
//! `GET /openapi.json` (`openapi.path`; `openapi.enabled = false` to turn off).
//!
//! ```
//! use xcore::prelude::*;
//! use xcore::testing::TestClient;
//!
//! pub struct Items;
//!
//! #[plugin(prefix = "/items", tags = ["items"])]
//! impl Items {
//!     /// Deletes an item.
//!     #[route(delete, "/{id}", auth = "admin")]
//!     async fn remove(Path(id): Path<u64>) -> StatusCode { StatusCode::NO_CONTENT }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> xcore::Result<()> {
//! let client = TestClient::new(App::new(xcore::testing::config())?.plugin(Items)).await?;
//! let doc: serde_json::Value = client.get("/openapi.json").send().await.json();
//! let delete = &doc["paths"]["/items/{id}"]["delete"];
//! assert_eq!(delete["summary"], "Deletes an item.");
//! assert_eq!(delete["security"], serde_json::json!([{"bearerAuth": []}]));
//! assert_eq!(delete["x-xcore-roles"], serde_json::json!(["admin"]));
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::app::MountedRoute;
use crate::config::Config;
use crate::plugin::PluginMeta;

/// The document for these plugins' routes.
pub(crate) fn document(config: &Config, metas: &[PluginMeta], routes: &[MountedRoute]) -> Value {
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for route in routes {
        let meta = metas.iter().find(|m| m.name == route.plugin);
        let (path, parameters) = openapi_path(&route.path);
        let tags: Vec<String> = match meta {
            Some(meta) if !meta.tags.is_empty() => {
                meta.tags.iter().map(|t| t.to_string()).collect()
            }
            _ => vec![route.plugin.clone()],
        };
        let guard = &route.info.guard;
        let mut operation = Map::new();
        operation.insert(
            "operationId".into(),
            json!(format!("{}_{}", route.plugin, route.info.handler).replace('-', "_")),
        );
        operation.insert("tags".into(), json!(tags));
        if let Some(summary) = &route.info.summary {
            operation.insert("summary".into(), json!(summary));
        }
        if let Some(description) = &route.info.description {
            operation.insert("description".into(), json!(description));
        }
        if !parameters.is_empty() {
            let parameters: Vec<Value> = parameters
                .iter()
                .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
                .collect();
            operation.insert("parameters".into(), json!(parameters));
        }
        let mut responses = Map::new();
        responses.insert("2XX".into(), json!({"description": "Success"}));
        responses.insert(
            "4XX".into(),
            json!({"$ref": "#/components/responses/ClientError"}),
        );
        if !guard.is_public() {
            responses.insert(
                "401".into(),
                json!({"$ref": "#/components/responses/Unauthorized"}),
            );
            responses.insert(
                "403".into(),
                json!({"$ref": "#/components/responses/Forbidden"}),
            );
            operation.insert("security".into(), json!([{"bearerAuth": []}]));
            operation.insert(
                "x-xcore-roles".into(),
                json!(guard.roles().collect::<Vec<_>>()),
            );
            operation.insert(
                "x-xcore-permissions".into(),
                json!(guard.permissions().collect::<Vec<_>>()),
            );
        }
        operation.insert("responses".into(), Value::Object(responses));
        paths.entry(path).or_default().insert(
            route.info.method.as_http().as_str().to_lowercase(),
            Value::Object(operation),
        );
    }
    let tags: Vec<Value> = metas
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
        });
    json!({
        "openapi": "3.1.0",
        "info": {"title": config.openapi.title, "version": config.openapi.version},
        "tags": tags,
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"}
                            }
                        }
                    }
                }
            },
            "responses": {
                "ClientError": error_response("The request was refused; the body says why."),
                "Unauthorized": error_response("Missing, invalid, expired or revoked bearer token."),
                "Forbidden": error_response("Signed in, but without the required role or permission.")
            }
        }
    })
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
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
