//! What one route tells the document beyond its path, method and guard:
//! parameters, request body and success response, gathered from the
//! handler's types.

use axum::http::StatusCode;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value, json};

/// One operation of the API document, as the route's types describe it.
///
/// `#[route]` fills it from the handler's signature; a hand-written plugin
/// fills it with [`RouteInfo::describe`](crate::RouteInfo::describe):
///
/// ```
/// use axum::Json;
/// use schemars::JsonSchema;
/// use xcore::RouteInfo;
/// use xcore::openapi::Operation;
///
/// #[derive(serde::Deserialize, JsonSchema)]
/// struct NewItem { name: String }
/// #[derive(serde::Serialize, JsonSchema)]
/// struct Item { id: i64, name: String }
///
/// let info = RouteInfo::post("/")
///     .status(axum::http::StatusCode::CREATED)
///     .describe(|op: &mut Operation<'_>| {
///         op.input::<Json<NewItem>>();
///         op.output::<Json<Item>>();
///     });
/// ```
pub struct Operation<'g> {
    generator: &'g mut SchemaGenerator,
    path_names: Vec<String>,
    pub(super) path_schemas: Map<String, Value>,
    pub(super) parameters: Vec<Value>,
    pub(super) request: Option<Map<String, Value>>,
    pub(super) response: Option<(String, Value)>,
    pub(super) status: Option<StatusCode>,
    pub(super) status_varies: bool,
}

impl<'g> Operation<'g> {
    pub(super) fn new(generator: &'g mut SchemaGenerator, path_names: Vec<String>) -> Self {
        Operation {
            generator,
            path_names,
            path_schemas: Map::new(),
            parameters: Vec::new(),
            request: None,
            response: None,
            status: None,
            status_varies: false,
        }
    }

    /// Describes the operation with an extractor's
    /// [`OperationInput`](super::OperationInput) impl.
    pub fn input<T: super::OperationInput + ?Sized>(&mut self) -> &mut Self {
        T::describe(self);
        self
    }

    /// Describes the operation with a response type's
    /// [`OperationOutput`](super::OperationOutput) impl.
    pub fn output<T: super::OperationOutput + ?Sized>(&mut self) -> &mut Self {
        T::describe(self);
        self
    }

    /// The schema of `T`: a `$ref` into `#/components/schemas` for named
    /// types (their definition is added to the document), inline otherwise.
    pub fn schema<T: JsonSchema + ?Sized>(&mut self) -> Value {
        self.generator.subschema_for::<T>().to_value()
    }

    /// Types the path parameters with `T` as `Path<T>` reads them: a struct
    /// by field name, a tuple by position, a single value for the only one.
    pub fn path_parameters<T: JsonSchema + ?Sized>(&mut self) -> &mut Self {
        let schema = T::json_schema(self.generator).to_value();
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (name, schema) in properties {
                self.path_schemas.insert(name.clone(), schema.clone());
            }
        } else if let Some(items) = schema.get("prefixItems").and_then(Value::as_array) {
            for (name, schema) in self.path_names.iter().zip(items) {
                self.path_schemas.insert(name.clone(), schema.clone());
            }
        } else if let Some(name) = self.path_names.first() {
            // A map or a list (`Path<HashMap<..>>`) says nothing per name.
            let collection = matches!(
                schema.get("type").and_then(Value::as_str),
                Some("object" | "array")
            );
            if !collection {
                self.path_schemas.insert(name.clone(), schema);
            }
        }
        self
    }

    /// Adds the query parameters `Query<T>` reads: one per field of `T`,
    /// required unless it is optional or has a default.
    pub fn query_parameters<T: JsonSchema + ?Sized>(&mut self) -> &mut Self {
        let schema = T::json_schema(self.generator).to_value();
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (name, schema) in properties {
                let mut parameter = json!({"name": name, "in": "query", "schema": schema});
                if required.contains(&name.as_str()) {
                    parameter["required"] = json!(true);
                }
                if let Some(description) = schema.get("description") {
                    parameter["description"] = description.clone();
                }
                self.parameters.push(parameter);
            }
        }
        self
    }

    /// Adds a request header the route reads.
    pub fn header_parameter(&mut self, name: &str, schema: Value, required: bool) -> &mut Self {
        self.parameters
            .push(json!({"name": name, "in": "header", "required": required, "schema": schema}));
        self
    }

    /// Accepts a request body of `media_type` with `schema`. Called once per
    /// media type the route accepts.
    pub fn request_body(&mut self, media_type: &str, schema: Value) -> &mut Self {
        self.request
            .get_or_insert_with(Map::new)
            .insert(media_type.to_owned(), json!({"schema": schema}));
        self
    }

    /// A successful response carries a body of `media_type` with `schema`.
    pub fn response_body(&mut self, media_type: &str, schema: Value) -> &mut Self {
        self.response = Some((media_type.to_owned(), schema));
        self
    }

    /// A successful response has this status, unless the route's
    /// [`status`](crate::RouteInfo::status) says otherwise.
    pub fn response_status(&mut self, status: StatusCode) -> &mut Self {
        self.status = Some(status);
        self
    }

    /// The handler picks the success status at run time (it returns a
    /// `StatusCode`): documented as `2XX` unless the route states one.
    pub fn response_status_varies(&mut self) -> &mut Self {
        self.status_varies = true;
        self
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use schemars::generate::SchemaSettings;

    use super::*;

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    struct ByName {
        slug: String,
        id: u32,
    }

    fn path_schemas(names: &[&str], describe: fn(&mut Operation<'_>)) -> Map<String, Value> {
        let mut generator = SchemaSettings::draft2020_12().into_generator();
        let mut op = Operation::new(
            &mut generator,
            names.iter().map(|n| n.to_string()).collect(),
        );
        describe(&mut op);
        op.path_schemas
    }

    #[test]
    fn path_parameters_are_typed_by_name_by_position_or_alone() {
        let by_name = path_schemas(&["id", "slug"], |op| {
            op.path_parameters::<ByName>();
        });
        assert_eq!(by_name["id"]["type"], "integer");
        assert_eq!(by_name["slug"]["type"], "string");
        let by_position = path_schemas(&["id", "role"], |op| {
            op.path_parameters::<(i64, String)>();
        });
        assert_eq!(by_position["id"]["type"], "integer");
        assert_eq!(by_position["role"]["type"], "string");
        let alone = path_schemas(&["id"], |op| {
            op.path_parameters::<u64>();
        });
        assert_eq!(alone["id"]["type"], "integer");
        let map = path_schemas(&["id"], |op| {
            op.path_parameters::<HashMap<String, String>>();
        });
        assert!(map.is_empty(), "a map types no parameter: {map:?}");
    }
}
