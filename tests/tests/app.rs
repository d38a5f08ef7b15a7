//! The app around the plugins: JSON errors for everything a client can get
//! wrong, panics contained, limits, health, request ids, and refusal to
//! start with conflicting plugins or without a secret in production.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{client, config, error_code};
use serde::Deserialize;
use xcore::config::{Config, Environment};
use xcore::prelude::*;
use xcore::testing::TestClient;
use xcore::{PluginMeta, RouteInfo, Routes};

#[derive(Deserialize, serde::Serialize)]
struct NewItem {
    name: String,
    quantity: u32,
}

#[derive(Default)]
struct Shop {
    created: AtomicUsize,
}

#[plugin(name = "shop", prefix = "/shop")]
impl Shop {
    #[route(post, "/items")]
    async fn create(&self, Json(item): Json<NewItem>) -> (StatusCode, Json<NewItem>) {
        self.created.fetch_add(1, Ordering::SeqCst);
        (StatusCode::CREATED, Json(item))
    }

    #[route(get, "/items/{id}")]
    async fn show(Path(id): Path<u32>) -> xcore::Result<String> {
        if id == 0 {
            return Err(Error::NotFound("item 0 does not exist".into()));
        }
        Ok(format!("item {id}"))
    }

    #[route(get, "/accepted")]
    async fn accepted() -> impl IntoResponse {
        (StatusCode::ACCEPTED, "queued")
    }

    #[route(get, "/count")]
    async fn count(&self) -> String {
        self.created.load(Ordering::SeqCst).to_string()
    }

    #[route(get, "/panic")]
    async fn boom() -> &'static str {
        panic!("handler bug with a detail the client must not see")
    }

    #[route(get, "/internal")]
    async fn internal() -> xcore::Result<()> {
        Err(Error::internal(
            "connection string postgres://admin:hunter2@db",
        ))
    }
}

async fn shop() -> TestClient {
    client(Shop::default()).await
}

#[tokio::test]
async fn unknown_route_is_a_json_404() {
    let response = shop().await.get("/nope").send().await;
    assert_eq!(response.status(), 404);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(error_code(&response), "not_found");
}

#[tokio::test]
async fn wrong_method_is_a_json_405_with_allow() {
    let response = shop().await.delete("/shop/items").send().await;
    assert_eq!(response.status(), 405);
    assert_eq!(error_code(&response), "method_not_allowed");
    assert!(
        response
            .header("allow")
            .is_some_and(|allow| allow.contains("POST"))
    );
}

#[tokio::test]
async fn malformed_json_is_a_json_400_and_nothing_is_created() {
    let client = shop().await;
    let response = client
        .post("/shop/items")
        .header("content-type", "application/json")
        .body(r#"{"name": "clavier", "quantity": "#)
        .send()
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_code(&response), "bad_request");
    assert_eq!(client.get("/shop/count").send().await.text(), "0");
}

#[tokio::test]
async fn wrong_json_shape_is_a_json_422() {
    let response = shop()
        .await
        .post("/shop/items")
        .json(&serde_json::json!({"name": "clavier", "quantity": -1}))
        .send()
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(error_code(&response), "validation_failed");
}

#[tokio::test]
async fn missing_content_type_is_a_json_415() {
    let response = shop()
        .await
        .post("/shop/items")
        .body(r#"{"name": "clavier", "quantity": 1}"#)
        .send()
        .await;
    assert_eq!(response.status(), 415);
    assert_eq!(error_code(&response), "unsupported_media_type");
}

#[tokio::test]
async fn valid_json_is_accepted() {
    let client = shop().await;
    let response = client
        .post("/shop/items")
        .json(&NewItem {
            name: "clavier".into(),
            quantity: 2,
        })
        .send()
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.json::<serde_json::Value>()["quantity"], 2);
    assert_eq!(client.get("/shop/count").send().await.text(), "1");
}

#[tokio::test]
async fn handlers_may_return_impl_into_response() {
    let response = shop().await.get("/shop/accepted").send().await;
    assert_eq!(response.status(), 202);
    assert_eq!(response.text(), "queued");
}

#[tokio::test]
async fn bad_path_parameter_is_a_json_422_naming_it() {
    let response = shop().await.get("/shop/items/abc").send().await;
    assert_eq!(response.status(), 422);
    assert_eq!(error_code(&response), "validation_failed");
    let body: serde_json::Value = response.json();
    assert_eq!(body["error"]["fields"][0]["code"], "type", "{body}");
}

#[tokio::test]
async fn handler_errors_become_their_status() {
    let response = shop().await.get("/shop/items/0").send().await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.json::<serde_json::Value>(),
        serde_json::json!({"error": {"code": "not_found", "message": "item 0 does not exist"}})
    );
}

#[tokio::test]
async fn panic_is_a_generic_500_and_the_app_keeps_serving() {
    let client = shop().await;
    let response = client.get("/shop/panic").send().await;
    assert_eq!(response.status(), 500);
    assert_eq!(error_code(&response), "internal_error");
    assert!(!response.text().contains("detail"));
    assert_eq!(client.get("/shop/items/3").send().await.status(), 200);
}

#[tokio::test]
async fn internal_error_details_stay_out_of_the_response() {
    let response = shop().await.get("/shop/internal").send().await;
    assert_eq!(response.status(), 500);
    assert!(!response.text().contains("hunter2"));
}

#[tokio::test]
async fn oversized_body_is_a_json_413() {
    let mut config = config();
    config.http.body_limit_bytes = 64;
    let client = TestClient::new(App::new(config).expect("app").plugin(Shop::default()))
        .await
        .expect("router");
    let name = "x".repeat(200);
    let response = client
        .post("/shop/items")
        .json(&NewItem { name, quantity: 1 })
        .send()
        .await;
    assert_eq!(response.status(), 413);
    assert_eq!(error_code(&response), "payload_too_large");
    assert_eq!(client.get("/shop/count").send().await.text(), "0");
}

#[tokio::test]
async fn health_answers_and_every_response_has_a_request_id() {
    let client = shop().await;
    let response = client.get("/health").send().await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<serde_json::Value>()["status"], "ok");
    let id = response
        .header("x-request-id")
        .expect("request id")
        .to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let other = client.get("/nope").send().await;
    assert_ne!(other.header("x-request-id"), Some(id.as_str()));
    let kept = client
        .get("/health")
        .header("x-request-id", "trace-me-123")
        .send()
        .await;
    assert_eq!(kept.header("x-request-id"), Some("trace-me-123"));
}

#[tokio::test]
async fn head_is_answered_by_get_routes() {
    let response = shop()
        .await
        .request(xcore::http::Method::HEAD, "/shop/items/3")
        .send()
        .await;
    assert_eq!(response.status(), 200);
    assert!(response.bytes().is_empty());
}

/// A plugin written by hand, with a configurable name, prefix and routes.
struct Manual {
    name: &'static str,
    prefix: &'static str,
    routes: Vec<RouteInfo>,
}

impl Plugin for Manual {
    fn meta(&self) -> PluginMeta {
        PluginMeta::new(self.name).prefix(self.prefix)
    }
    fn routes(self: Arc<Self>) -> Routes {
        let name = self.name;
        self.routes
            .iter()
            .cloned()
            .fold(Routes::new(), |routes, info| {
                routes.route(info, move || async move { name })
            })
    }
}

fn manual(name: &'static str, prefix: &'static str, routes: Vec<RouteInfo>) -> Manual {
    Manual {
        name,
        prefix,
        routes,
    }
}

async fn setup_error(app: App) -> String {
    match app.into_router().await {
        Err(err @ Error::Setup(_)) => err.to_string(),
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("the app must refuse to start"),
    }
}

#[tokio::test]
async fn hand_written_plugins_work_like_generated_ones() {
    let client = client(manual(
        "m",
        "/m",
        vec![RouteInfo::get("/x"), RouteInfo::post("/x")],
    ))
    .await;
    assert_eq!(client.get("/m/x").send().await.text(), "m");
    assert_eq!(client.post("/m/x").send().await.text(), "m");
}

#[tokio::test]
async fn two_plugins_with_one_name_are_refused() {
    let app = App::new(config())
        .expect("app")
        .plugin(manual("dup", "/a", vec![]))
        .plugin(manual("dup", "/b", vec![]));
    assert!(
        setup_error(app)
            .await
            .contains("two plugins are named `dup`")
    );
}

#[tokio::test]
async fn overlapping_routes_of_two_plugins_are_refused() {
    let app = App::new(config())
        .expect("app")
        .plugin(manual("a", "/x", vec![RouteInfo::get("/{id}")]))
        .plugin(manual("b", "/x", vec![RouteInfo::delete("/{name}")]));
    assert!(setup_error(app).await.contains("overlaps"));

    let app = App::new(config())
        .expect("app")
        .plugin(manual("a", "/x", vec![RouteInfo::get("/y")]))
        .plugin(manual("b", "", vec![RouteInfo::get("/x/y")]));
    let message = setup_error(app).await;
    assert!(
        message.contains("plugin `b` wants /x/y, which plugin `a` already serves"),
        "{message}"
    );
}

#[tokio::test]
async fn a_plugin_cannot_take_the_health_route() {
    let app =
        App::new(config())
            .expect("app")
            .plugin(manual("h", "", vec![RouteInfo::get("/health")]));
    assert!(setup_error(app).await.contains("/health"));
}

#[test]
fn production_without_a_secret_refuses_to_start() {
    let err = App::new(Config::default().with_env(Environment::Production))
        .err()
        .expect("must refuse");
    let message = err.to_string();
    assert!(message.contains("XCORE_AUTH_JWT_SECRET"), "{message}");
}

#[test]
fn a_short_secret_is_refused_without_being_echoed() {
    let err = App::new(Config::default().with_app_secret("tiny-secret"))
        .err()
        .expect("must refuse");
    assert!(!err.to_string().contains("tiny-secret"));
}

#[tokio::test]
async fn development_without_a_secret_still_works_with_a_generated_one() {
    // Default configuration except the database, kept in memory.
    let config = Config::default().with_database_url(common::config().database.url.expose());
    let app = App::new(config).expect("app").plugin(Shop::default());
    let client = TestClient::new(app).await.expect("router");
    let token = client.token("1", &["admin"]).expect("token");
    assert!(!token.is_empty());
    assert_eq!(client.get("/shop/items/1").send().await.status(), 200);
}

#[tokio::test]
async fn the_route_table_lists_full_paths_and_guards() {
    let app = App::new(config()).expect("app").plugin(Shop::default());
    let routes = app.routes();
    let create = routes
        .iter()
        .find(|r| r.path == "/shop/items" && r.info.method == xcore::Method::Post)
        .expect("create route");
    assert_eq!(create.plugin, "shop");
    assert_eq!(create.info.handler, "create");
    assert!(create.info.guard.is_public());
}

#[tokio::test]
async fn plain_router_nests_into_an_existing_axum_app() {
    let plain = App::new(config())
        .expect("app")
        .plugin(Shop::default())
        .into_plain_router()
        .await
        .expect("router");
    let outer = xcore::axum::Router::new().nest("/api", plain);
    let response = tower_oneshot(outer, "/api/shop/items/4").await;
    assert_eq!(response, (200, "item 4".to_owned()));
}

async fn tower_oneshot(router: xcore::axum::Router, path: &str) -> (u16, String) {
    use xcore::axum::body::{Body, to_bytes};
    use xcore::http::Request;
    let request = Request::get(path).body(Body::empty()).expect("request");
    let response = tower::ServiceExt::oneshot(router, request)
        .await
        .expect("infallible");
    let status = response.status().as_u16();
    let body = to_bytes(response.into_body(), 1 << 20).await.expect("body");
    (status, String::from_utf8_lossy(&body).into_owned())
}
