//! `GET /openapi.json` describes every mounted route, with the security
//! requirement of the guard that enforces it.

mod common;

use serde_json::Value;
use xcore::testing::TestClient;
use xcore_examples::seed_tour;

#[tokio::test]
async fn every_route_of_the_seed_tour_is_described_with_its_guard() {
    let routes = seed_tour::app(common::config()).expect("app").routes();
    let client = TestClient::new(seed_tour::app(common::config()).expect("app"))
        .await
        .expect("app");
    let response = client.get("/openapi.json").send().await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let doc: Value = response.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );

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
        } else {
            assert_eq!(
                operation["security"],
                serde_json::json!([{"bearerAuth": []}]),
                "{method} {path}"
            );
            let roles: Vec<&str> = route.info.guard.roles().collect();
            assert_eq!(
                operation["x-xcore-roles"],
                serde_json::json!(roles),
                "{method} {path}"
            );
        }
    }
    // Spot checks against the seed's declarations.
    let delete = &doc["paths"]["/items/{item_id}"]["delete"];
    assert_eq!(delete["x-xcore-roles"], serde_json::json!(["admin"]));
    assert_eq!(delete["parameters"][0]["name"], "item_id");
    assert_eq!(
        doc["paths"]["/auth/me"]["get"]["security"],
        serde_json::json!([{"bearerAuth": []}])
    );
    assert!(
        doc["paths"]["/auth/login"]["post"]
            .get("security")
            .is_none()
    );
    assert!(
        doc["paths"]["/catalogue/produits"]["get"]["summary"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "doc comments become summaries"
    );
    let total: usize = doc["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|p| p.as_object().map_or(0, |m| m.len()))
        .sum();
    assert_eq!(total, routes.len(), "nothing more than the mounted routes");
}

#[tokio::test]
async fn the_document_can_be_moved_or_turned_off() {
    let mut config = common::config();
    config.openapi.path = "/api/spec.json".into();
    let client = TestClient::new(seed_tour::app(config).expect("app"))
        .await
        .expect("app");
    assert_eq!(client.get("/api/spec.json").send().await.status(), 200);
    assert_eq!(client.get("/openapi.json").send().await.status(), 404);

    let mut config = common::config();
    config.openapi.enabled = false;
    let client = TestClient::new(seed_tour::app(config).expect("app"))
        .await
        .expect("app");
    assert_eq!(client.get("/openapi.json").send().await.status(), 404);
}
