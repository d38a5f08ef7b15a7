//! The API description: `GET /openapi.json` is valid OpenAPI 3.1, lists
//! every mounted route with the security its guard enforces, carries the
//! body schemas of the handlers' types, and real responses match it; the
//! interactive `/docs` page is served from bundled files.

use crate::common;

use jsonschema::{Registry, Validator};
use schemars::JsonSchema;
use serde_json::{Value, json};
use xcore::http::StatusCode;
use xcore::openapi::Operation;
use xcore::prelude::*;
use xcore::testing::{TestClient, TestResponse};
use xcore::{PluginMeta, RouteInfo, Routes};
use xcore_examples::seed_tour;

const OAS: &str = "https://spec.openapis.org/oas/3.1";

/// The official OpenAPI 3.1 JSON Schemas (tests/tests/data/openapi-3.1,
/// see SOURCE.md there), with `schema-base`: it also checks every Schema
/// Object against the OpenAPI dialect of JSON Schema 2020-12.
fn openapi_validator() -> Validator {
    let file = |name: &str| -> Value {
        let path = format!(
            "{}/tests/data/openapi-3.1/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(&path).expect("schema file")).expect("json")
    };
    let registry = Registry::new()
        .add(format!("{OAS}/schema/2022-10-07"), file("schema.json"))
        .and_then(|r| {
            r.add(
                format!("{OAS}/schema-base/2022-10-07"),
                file("schema-base.json"),
            )
        })
        .and_then(|r| {
            r.add(
                format!("{OAS}/dialect/base"),
                file("dialect/base.schema.json"),
            )
        })
        .and_then(|r| r.add(format!("{OAS}/meta/base"), file("meta/base.schema.json")))
        .and_then(|r| r.prepare())
        .expect("registry");
    jsonschema::options()
        .with_registry(&registry)
        .build(&json!({"$ref": format!("{OAS}/schema-base/2022-10-07")}))
        .expect("validator")
}

fn errors(validator: &Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// A validator for one schema of `doc` (e.g. a response's), resolving its
/// `$ref`s into `doc`'s components.
fn body_validator(doc: &Value, schema: &Value) -> Validator {
    let registry = Registry::new()
        .add("https://xcore.test/openapi.json", doc.clone())
        .and_then(|r| r.prepare())
        .expect("registry");
    fn absolute(schema: &mut Value) {
        match schema {
            Value::Object(map) => {
                for (key, value) in map.iter_mut() {
                    match (key.as_str(), value.as_str()) {
                        ("$ref", Some(reference)) if reference.starts_with('#') => {
                            *value = json!(format!("https://xcore.test/openapi.json{reference}"));
                        }
                        _ => absolute(value),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(absolute),
            _ => {}
        }
    }
    let mut schema = schema.clone();
    absolute(&mut schema);
    jsonschema::options()
        .with_registry(&registry)
        .build(&schema)
        .expect("validator")
}

/// Checks a real response against what the document says for it.
fn assert_conforms(doc: &Value, path: &str, method: &str, response: &TestResponse) {
    let responses = &doc["paths"][path][method]["responses"];
    let status = response.status().as_u16().to_string();
    let range = format!("{}XX", &status[..1]);
    let mut documented = responses
        .get(&status)
        .or_else(|| responses.get(&range))
        .unwrap_or_else(|| panic!("{method} {path}: {status} is not documented"))
        .clone();
    if let Some(reference) = documented.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().expect("name");
        documented = doc["components"]["responses"][name].clone();
    }
    match documented["content"].as_object() {
        None => assert!(
            response.bytes().is_empty(),
            "{method} {path}: {status} documents no body"
        ),
        Some(content) => {
            let media_type = response.header("content-type").expect("content-type");
            let schema = &content
                .get(media_type)
                .unwrap_or_else(|| panic!("{method} {path}: {media_type} not documented"))["schema"];
            let body: Value = response.json();
            let found = errors(&body_validator(doc, schema), &body);
            assert!(
                found.is_empty(),
                "{method} {path} {status}: {found:?}\n{body}"
            );
        }
    }
}

/// seed_tour, running in-process on `config`.
async fn seed_tour_client(config: xcore::config::Config) -> TestClient {
    TestClient::new(seed_tour::app(config).expect("app"))
        .await
        .expect("app")
}

fn admin_config() -> xcore::config::Config {
    let mut config = common::config();
    config.admin.email = Some("admin@example.com".into());
    config.admin.password = Some("correct horse battery".into());
    config
}

#[tokio::test]
async fn the_document_shows_the_declared_constraints_and_the_422_and_stays_valid() {
    let client = seed_tour_client(common::config()).await;
    let doc: Value = client.get("/openapi.json").send().await.json();
    let found = errors(&openapi_validator(), &doc);
    assert!(found.is_empty(), "{found:#?}");
    let produit = &doc["components"]["schemas"]["NouveauProduit"]["properties"];
    assert_eq!(produit["nom"]["minLength"], 1, "{produit}");
    assert_eq!(produit["nom"]["maxLength"], 200, "{produit}");
    assert_eq!(produit["nom"]["pattern"], "\\S", "{produit}");
    assert_eq!(produit["prix_centimes"]["minimum"], 0, "{produit}");
    let responses = &doc["paths"]["/catalogue/produits"]["post"]["responses"];
    assert_eq!(
        responses["422"]["$ref"], "#/components/responses/ValidationFailed",
        "{responses}"
    );
    // An operation without input has no 422 to document.
    assert!(
        doc["paths"]["/catalogue/produits"]["get"]["responses"]
            .get("422")
            .is_none()
    );
    // The body of a 422, as the document describes it, is what is sent.
    let admin = client.token("1", &["admin"]).expect("token");
    let refused = client
        .post("/catalogue/produits")
        .bearer(&admin)
        .json(&json!({"nom": "", "prix_centimes": -1}))
        .send()
        .await;
    assert_eq!(refused.status(), 422);
    assert_conforms(&doc, "/catalogue/produits", "post", &refused);
    let detail = &doc["components"]["schemas"]["ErrorDetail"]["properties"];
    assert!(detail.get("fields").is_some(), "{detail}");

    // The built-in endpoints: the e-mail's format, and a new password's
    // length as configured.
    let mut config = common::config();
    config.auth.password_min_length = 12;
    let doc: Value = seed_tour_client(config)
        .await
        .get("/openapi.json")
        .send()
        .await
        .json();
    let schemas = &doc["components"]["schemas"];
    let account = &schemas["NewAccount"]["properties"];
    assert_eq!(account["email"]["format"], "email", "{account}");
    assert_eq!(account["password"]["minLength"], 12, "{account}");
    assert_eq!(account["password"]["maxLength"], 1024, "{account}");
    assert!(account["password"].get("x-xcore-new-password").is_none());
    let reset = &schemas["ResetBody"]["properties"];
    assert_eq!(reset["new_password"]["minLength"], 12, "{reset}");
    // A login's password is whatever the account has: no bound.
    assert!(
        schemas["Credentials"]["properties"]["password"]
            .get("minLength")
            .is_none()
    );
    let found = errors(&openapi_validator(), &doc);
    assert!(found.is_empty(), "{found:#?}");
}

#[tokio::test]
async fn the_seed_tour_document_is_valid_openapi_3_1_with_every_route_and_its_security() {
    let routes = seed_tour::app(common::config()).expect("app").routes();
    let client = seed_tour_client(common::config()).await;
    let response = client.get("/openapi.json").send().await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let doc: Value = response.json();

    let validator = openapi_validator();
    let found = errors(&validator, &doc);
    assert!(found.is_empty(), "not valid OpenAPI 3.1: {found:#?}");
    assert_eq!(doc["openapi"], "3.1.0");
    // The validator does reject what is not OpenAPI: a wrong parameter
    // location, and a schema the dialect refuses.
    let mut broken = doc.clone();
    broken["paths"]["/items/{item_id}"]["delete"]["parameters"][0]["in"] = json!("body");
    assert!(!errors(&validator, &broken).is_empty());
    let mut broken = doc.clone();
    broken["components"]["schemas"]["Item"]["required"] = json!("id");
    assert!(!errors(&validator, &broken).is_empty());

    let mut operation_ids = std::collections::BTreeSet::new();
    for route in &routes {
        let path = route.path.replace("{*", "{");
        let method = route.info.method.as_http().as_str().to_lowercase();
        let operation = &doc["paths"][&path][&method];
        assert!(operation.is_object(), "{method} {path} is missing");
        assert!(
            operation_ids.insert(operation["operationId"].to_string()),
            "duplicate operationId"
        );
        if route.info.guard.is_public() {
            assert!(
                operation.get("security").is_none(),
                "{method} {path} is public"
            );
            assert!(operation["responses"].get("401").is_none());
        } else {
            assert_eq!(
                operation["security"],
                json!([{"bearerAuth": []}, {"apiKey": []}, {"oauth2": []}]),
                "{method} {path}"
            );
            let roles: Vec<&str> = route.info.guard.roles().collect();
            assert_eq!(operation["x-xcore-roles"], json!(roles), "{method} {path}");
            assert!(operation["responses"]["401"].is_object());
            assert!(operation["responses"]["403"].is_object());
        }
    }
    let total: usize = doc["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|p| p.as_object().map_or(0, |m| m.len()))
        .sum();
    assert_eq!(total, routes.len(), "nothing more than the mounted routes");

    // The token endpoint the docs page signs in with.
    assert_eq!(
        doc["components"]["securitySchemes"]["oauth2"]["flows"]["password"]["tokenUrl"],
        "/auth/login"
    );
    // What is cached under which tags, and what invalidates them.
    let produits = &doc["paths"]["/catalogue/produits"];
    assert_eq!(produits["get"]["x-xcore-cache-tags"], json!(["produits"]));
    assert_eq!(produits["post"]["x-xcore-invalidates"], json!(["produits"]));
    assert_eq!(
        doc["paths"]["/tableau-de-bord/stats"]["get"]["x-xcore-cache-tags"],
        json!(["produits"])
    );
    let delete = &doc["paths"]["/items/{item_id}"]["delete"];
    assert_eq!(delete["x-xcore-roles"], json!(["admin"]));
    assert_eq!(
        delete["summary"],
        "Deletes an item: admins only (403 for other users, 401 without a token)."
    );
}

#[tokio::test]
async fn bodies_parameters_and_statuses_come_from_the_handlers_types() {
    let client = seed_tour_client(common::config()).await;
    let doc: Value = client.get("/openapi.json").send().await.json();
    let schemas = &doc["components"]["schemas"];

    // `Json<NouvelItem>` in, `status = 201` and `Json<Item>` out.
    let create = &doc["paths"]["/items/"]["post"];
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"],
        json!({"$ref": "#/components/schemas/NouvelItem"})
    );
    assert_eq!(create["requestBody"]["required"], true);
    assert_eq!(
        create["responses"]["201"]["content"]["application/json"]["schema"],
        json!({"$ref": "#/components/schemas/Item"})
    );
    assert_eq!(schemas["NouvelItem"]["additionalProperties"], false);
    assert_eq!(schemas["NouvelItem"]["properties"]["nom"]["maxLength"], 200);
    assert_eq!(schemas["Item"]["properties"]["id"]["type"], "integer");
    // `Json<Vec<Item>>`.
    assert_eq!(
        doc["paths"]["/items/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"],
        json!({"type": "array", "items": {"$ref": "#/components/schemas/Item"}})
    );
    // `Path<i64>`, `status = 204` and no body.
    let delete = &doc["paths"]["/items/{item_id}"]["delete"];
    assert_eq!(delete["parameters"][0]["schema"]["type"], "integer");
    assert_eq!(delete["parameters"][0]["in"], "path");
    assert!(delete["responses"]["204"].get("content").is_none());
    // `Query<PageQuery>`: optional, typed query parameters.
    let users = &doc["paths"]["/admin/users"]["get"]["parameters"];
    assert_eq!(users[0]["name"], "page");
    assert_eq!(users[0]["in"], "query");
    assert!(users[0].get("required").is_none());
    assert_eq!(users[1]["schema"]["type"], "integer");
    // `Path<(i64, String)>` by position.
    let grant = &doc["paths"]["/admin/users/{id}/roles/{role}"]["put"]["parameters"];
    assert_eq!(grant[0]["schema"]["type"], "integer");
    assert_eq!(grant[1]["schema"]["type"], "string");
    // A hand-written extractor describing itself: both login encodings.
    let login = &doc["paths"]["/auth/login"]["post"]["requestBody"]["content"];
    assert!(login["application/json"].is_object());
    assert_eq!(
        login["application/x-www-form-urlencoded"]["schema"],
        json!({"$ref": "#/components/schemas/PasswordForm"})
    );
    // The built-in plugins' answers are described for client generators.
    for name in [
        "LoginOutcome",
        "TokenPair",
        "User",
        "TotpSetup",
        "Role",
        "Page",
        "Error",
    ] {
        assert!(schemas[name].is_object(), "schema {name} missing");
    }
    assert_eq!(
        doc["components"]["responses"]["ClientError"]["content"]["application/json"]["schema"],
        json!({"$ref": "#/components/schemas/Error"})
    );
}

#[tokio::test]
async fn real_answers_match_the_document() {
    let client = seed_tour_client(admin_config()).await;
    let doc: Value = client.get("/openapi.json").send().await.json();

    // The check itself bites: a body that breaks the schema is caught.
    let item = body_validator(&doc, &json!({"$ref": "#/components/schemas/Item"}));
    assert!(!errors(&item, &json!({"id": "seven", "nom": "lampe"})).is_empty());

    let response = client.get("/hello/").send().await;
    assert_conforms(&doc, "/hello/", "get", &response);
    let response = client
        .post("/auth/register")
        .json(&json!({"email": "ada@example.com", "password": "analytical engine"}))
        .send()
        .await;
    assert_eq!(response.status(), 201);
    assert_conforms(&doc, "/auth/register", "post", &response);
    let response = client
        .post("/auth/register")
        .json(&json!({"email": "ada@example.com", "password": "analytical engine"}))
        .send()
        .await;
    assert_eq!(response.status(), 409);
    assert_conforms(&doc, "/auth/register", "post", &response);

    let response = client
        .post("/auth/login")
        .json(&json!({"email": "admin@example.com", "password": "correct horse battery"}))
        .send()
        .await;
    assert_conforms(&doc, "/auth/login", "post", &response);
    let admin: Value = response.json();
    let admin = admin["access_token"].as_str().expect("token").to_owned();

    for (method, path) in [
        ("get", "/auth/me"),
        ("get", "/admin/users"),
        ("get", "/admin/roles"),
        ("get", "/items/"),
        ("get", "/catalogue/produits"),
        ("get", "/tableau-de-bord/stats"),
        ("get", "/profil/moi"),
        ("get", "/profil/jeton"),
    ] {
        let response = client.get(path).bearer(&admin).send().await;
        assert_eq!(response.status(), 200, "{path}");
        assert_conforms(&doc, path, method, &response);
    }
    let response = client
        .post("/items/")
        .bearer(&admin)
        .json(&json!({"nom": "lampe"}))
        .send()
        .await;
    assert_eq!(response.status(), 201);
    assert_conforms(&doc, "/items/", "post", &response);
    let id = response.json::<Value>()["id"].as_i64().expect("id");
    let path = format!("/items/{id}");
    let response = client.delete(&path).bearer(&admin).send().await;
    assert_eq!(response.status(), 204);
    assert_conforms(&doc, "/items/{item_id}", "delete", &response);
    let response = client.delete(&path).bearer(&admin).send().await;
    assert_eq!(response.status(), 404);
    assert_conforms(&doc, "/items/{item_id}", "delete", &response);
    let response = client
        .post("/admin/roles")
        .bearer(&admin)
        .json(&json!({"name": "editor"}))
        .send()
        .await;
    assert_eq!(response.status(), 201);
    assert_conforms(&doc, "/admin/roles", "post", &response);
    let response = client.post("/auth/otp/send").bearer(&admin).send().await;
    assert_eq!(response.status(), 202);
    assert_conforms(&doc, "/auth/otp/send", "post", &response);
    let response = client.get("/auth/me").send().await;
    assert_eq!(response.status(), 401);
    assert_conforms(&doc, "/auth/me", "get", &response);
}

#[tokio::test]
async fn the_authorize_flow_of_the_docs_page_signs_in_with_the_password_form() {
    let client = seed_tour_client(admin_config()).await;
    let doc: Value = client.get("/openapi.json").send().await.json();
    let token_url = doc["components"]["securitySchemes"]["oauth2"]["flows"]["password"]["tokenUrl"]
        .as_str()
        .expect("tokenUrl")
        .to_owned();
    // What Swagger UI posts when "Authorize" is submitted.
    let response = client
        .post(&token_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=password&username=admin%40example.com&password=correct+horse+battery&scope=")
        .send()
        .await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json();
    assert_eq!(tokens["token_type"], "bearer");
    let token = tokens["access_token"].as_str().expect("access_token");
    let response = client.get("/admin/users").bearer(token).send().await;
    assert_eq!(response.status(), 200);

    let response = client
        .post(&token_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=password&username=admin%40example.com&password=wrong")
        .send()
        .await;
    assert_eq!(response.status(), 401);
    assert_eq!(common::error_code(&response), "unauthorized");
}

#[tokio::test]
async fn the_docs_page_and_its_files_are_served_from_the_binary() {
    let client = seed_tour_client(common::config()).await;
    let page = client.get("/docs").send().await;
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = page.header("content-security-policy").expect("csp");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = page.text();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no CDN: {html}"
    );
    assert!(!html.contains("<script>"), "no inline script: {html}");
    for (file, content_type, at_least) in [
        (
            "swagger-ui-bundle.js",
            "text/javascript; charset=utf-8",
            1_000_000,
        ),
        ("swagger-ui.css", "text/css; charset=utf-8", 100_000),
        ("favicon-32x32.png", "image/png", 100),
        ("swagger-ui-init.js", "text/javascript; charset=utf-8", 50),
    ] {
        assert!(html.contains(&format!("/docs/{file}")), "{file} is linked");
        let response = client.get(&format!("/docs/{file}")).send().await;
        assert_eq!(response.status(), 200, "{file}");
        assert_eq!(response.header("content-type"), Some(content_type));
        assert!(response.bytes().len() >= at_least, "{file}");
    }
    let init = client.get("/docs/swagger-ui-init.js").send().await.text();
    assert!(init.contains(r#""url":"/openapi.json""#), "{init}");
    assert!(init.contains(r#""persistAuthorization":false"#), "{init}");
}

#[tokio::test]
async fn the_document_and_the_page_can_be_moved_or_turned_off() {
    let mut config = common::config();
    config.openapi.path = "/api/spec.json".into();
    config.openapi.docs_path = "/api/docs".into();
    let client = seed_tour_client(config).await;
    assert_eq!(client.get("/api/spec.json").send().await.status(), 200);
    assert_eq!(client.get("/openapi.json").send().await.status(), 404);
    assert_eq!(client.get("/docs").send().await.status(), 404);
    assert_eq!(client.get("/api/docs").send().await.status(), 200);
    let init = client
        .get("/api/docs/swagger-ui-init.js")
        .send()
        .await
        .text();
    assert!(init.contains(r#""url":"/api/spec.json""#), "{init}");

    let mut config = common::config();
    config.openapi.docs = Some(false);
    let client = seed_tour_client(config).await;
    assert_eq!(client.get("/openapi.json").send().await.status(), 200);
    assert_eq!(client.get("/docs").send().await.status(), 404);
    assert_eq!(
        client
            .get("/docs/swagger-ui-bundle.js")
            .send()
            .await
            .status(),
        404
    );

    let mut config = common::config();
    config.openapi.enabled = Some(false);
    let client = seed_tour_client(config).await;
    assert_eq!(client.get("/openapi.json").send().await.status(), 404);
    assert_eq!(client.get("/docs").send().await.status(), 404);

    for bad in ["docs", "/docs/", "/docs/{x}"] {
        let mut config = common::config();
        config.openapi.docs_path = bad.into();
        let error = TestClient::new(seed_tour::app(config).expect("app"))
            .await
            .err()
            .expect("refused");
        assert!(error.to_string().contains("openapi.docs_path"), "{error}");
    }
}

// --- A hand-written plugin, and `status` on `#[route]` ---

#[derive(serde::Deserialize, JsonSchema)]
struct NewNote {
    text: String,
}

#[derive(serde::Serialize, JsonSchema)]
struct Note {
    id: u32,
    text: String,
}

/// No `JsonSchema`: documented without a schema, and still compiles.
#[derive(serde::Serialize)]
struct Opaque {
    secret_sauce: u8,
}

struct Notes;

impl Plugin for Notes {
    fn meta(&self) -> PluginMeta {
        PluginMeta::new("notes")
    }
    fn routes(self: std::sync::Arc<Self>) -> Routes {
        Routes::new().route(
            RouteInfo::post("/")
                .status(StatusCode::CREATED)
                .docs("Adds a note.", None)
                .describe(|op: &mut Operation<'_>| {
                    op.input::<Json<NewNote>>().output::<Json<Note>>();
                }),
            |Json(new): Json<NewNote>| async move {
                Json(Note {
                    id: 1,
                    text: new.text,
                })
            },
        )
    }
}

struct Macro;

#[plugin(prefix = "/m")]
impl Macro {
    #[route(post, "/notes", status = 201)]
    async fn add(Json(new): Json<NewNote>) -> xcore::Result<Json<Note>> {
        if new.text.is_empty() {
            return Err(Error::Validation("empty note".into()));
        }
        Ok(Json(Note {
            id: 7,
            text: new.text,
        }))
    }

    #[route(get, "/opaque")]
    async fn opaque() -> Json<Opaque> {
        Json(Opaque { secret_sauce: 1 })
    }
}

#[tokio::test]
async fn status_turns_a_plain_ok_into_the_declared_success_and_hand_written_routes_describe_themselves()
 {
    let app = App::new(common::config())
        .expect("app")
        .plugin(Notes)
        .plugin(Macro);
    let client = TestClient::new(app).await.expect("app");

    let response = client
        .post("/notes/")
        .json(&json!({"text": "hi"}))
        .send()
        .await;
    assert_eq!(response.status(), 201);
    let response = client
        .post("/m/notes")
        .json(&json!({"text": "hi"}))
        .send()
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.json::<Value>()["id"], 7);
    // Errors are not success: they keep their own status.
    let response = client
        .post("/m/notes")
        .json(&json!({"text": ""}))
        .send()
        .await;
    assert_eq!(response.status(), 422);
    let response = client
        .post("/m/notes")
        .json(&json!({"wrong": 1}))
        .send()
        .await;
    assert_eq!(response.status(), 422);

    let doc: Value = client.get("/openapi.json").send().await.json();
    let found = errors(&openapi_validator(), &doc);
    assert!(found.is_empty(), "{found:#?}");
    for path in ["/notes/", "/m/notes"] {
        let post = &doc["paths"][path]["post"];
        assert_eq!(
            post["requestBody"]["content"]["application/json"]["schema"],
            json!({"$ref": "#/components/schemas/NewNote"}),
            "{path}"
        );
        assert_eq!(
            post["responses"]["201"]["content"]["application/json"]["schema"],
            json!({"$ref": "#/components/schemas/Note"}),
            "{path}"
        );
    }
    assert_eq!(doc["paths"]["/notes/"]["post"]["summary"], "Adds a note.");
    assert_eq!(doc["paths"]["/notes/"]["post"]["operationId"], "post_notes");
    // A type without `JsonSchema` is left out, not guessed.
    let opaque = &doc["paths"]["/m/opaque"]["get"]["responses"];
    assert_eq!(opaque["2XX"], json!({"description": "Success"}));
    assert!(doc["components"]["schemas"].get("Opaque").is_none());
}
