//! Constraints declared on request types: `#[route]` checks every `Json`,
//! `Form`, `Query` and `Path` argument before the handler runs, `Valid<…>`
//! does the same for hand-written routes, and every refusal is one 422 body
//! listing each field — constraints broken and input that did not parse
//! alike — on SQLite and PostgreSQL.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use validator::Validate;
use xcore::axum::Form;
use xcore::prelude::*;
use xcore::testing::{TestClient, TestResponse};
use xcore_examples::seed_tour;

/// `(path, code)` of each field of a 422, in order.
fn fields(response: &TestResponse) -> Vec<(String, String)> {
    assert_eq!(response.status(), 422, "{}", response.text());
    let body: Value = response.json();
    assert_eq!(body["error"]["code"], "validation_failed", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    body["error"]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("no fields: {body}"))
        .iter()
        .map(|field| {
            assert!(
                field["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{field}"
            );
            (
                field["path"].as_str().expect("path").to_owned(),
                field["code"].as_str().expect("code").to_owned(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(path, code)| ((*path).to_owned(), (*code).to_owned()))
        .collect()
}

#[tokio::test]
async fn the_catalogue_refuses_every_wrong_field_at_once_and_stores_nothing() {
    for database in common::services::databases().await {
        let config = common::config().with_database_url(database.url.as_str());
        let client = TestClient::new(seed_tour::app(config).expect("app"))
            .await
            .expect("router");
        let admin = client.token("1", &["admin"]).expect("token");
        let post = |body: Value| {
            client
                .post("/catalogue/produits")
                .bearer(&admin)
                .json(&body)
                .send()
        };
        let name = database.name;

        let both = post(json!({"nom": "", "prix_centimes": -1})).await;
        assert_eq!(
            fields(&both),
            pairs(&[
                ("nom", "length"),
                ("nom", "regex"),
                ("prix_centimes", "range")
            ]),
            "{name}"
        );
        let blank = post(json!({"nom": "   ", "prix_centimes": 1})).await;
        assert_eq!(fields(&blank), pairs(&[("nom", "regex")]), "{name}");
        let wrong_type = post(json!({"nom": 5})).await;
        assert_eq!(fields(&wrong_type), pairs(&[("nom", "type")]), "{name}");
        let missing = post(json!({"nom": "Souris"})).await;
        assert_eq!(
            fields(&missing),
            pairs(&[("prix_centimes", "missing")]),
            "{name}"
        );
        let unknown = post(json!({"nom": "Souris", "prix_centimes": 1, "stock": 3})).await;
        assert_eq!(
            fields(&unknown),
            pairs(&[("stock", "unknown_field")]),
            "{name}"
        );
        let list = client.get("/catalogue/produits").send().await;
        assert_eq!(list.text(), "[]", "{name}: nothing refused was stored");

        let valid = post(json!({"nom": "Clavier", "prix_centimes": 0})).await;
        assert_eq!(valid.status(), 201, "{name}: {}", valid.text());
    }
}

#[tokio::test]
async fn a_path_parameter_that_does_not_parse_is_a_422_naming_it() {
    let client = TestClient::new(seed_tour::app(common::config()).expect("app"))
        .await
        .expect("router");
    let admin = client.token("1", &["admin"]).expect("token");
    let response = client.delete("/items/abc").bearer(&admin).send().await;
    assert_eq!(fields(&response), pairs(&[("item_id", "type")]));
    // The guard still runs first: no token, no hint about the parameter.
    assert_eq!(client.delete("/items/abc").send().await.status(), 401);
}

/// Lists of items: paths into nested values, and each kind of input.
#[derive(Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
struct Order {
    #[validate(email)]
    email: String,
    #[validate(length(min = 1), nested)]
    items: Vec<Line>,
}

/// `length` on a list puts the list into its error's parameters: its items
/// must be `Serialize`.
#[derive(Deserialize, Serialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
struct Line {
    #[validate(length(min = 1, max = 40))]
    nom: String,
    #[validate(range(min = 1, max = 99))]
    quantite: u32,
}

#[derive(Deserialize, JsonSchema, Validate)]
struct Page {
    #[validate(range(min = 1))]
    page: u32,
    #[validate(range(min = 1, max = 100))]
    per_page: Option<u32>,
}

#[derive(Deserialize, JsonSchema, Validate)]
struct Slug {
    #[validate(length(min = 3))]
    slug: String,
}

/// No constraints: passed through as before.
#[derive(Deserialize, JsonSchema)]
struct Free {
    note: String,
}

static HANDLED: AtomicUsize = AtomicUsize::new(0);

struct Shop;

#[plugin(prefix = "/shop")]
impl Shop {
    #[route(post, "/orders", status = 201)]
    async fn order(Json(order): Json<Order>) -> Json<usize> {
        HANDLED.fetch_add(1, Ordering::SeqCst);
        Json(order.items.len())
    }

    #[route(get, "/orders")]
    async fn orders(Query(page): Query<Page>) -> Json<u32> {
        Json(page.page)
    }

    #[route(get, "/tags/{slug}")]
    async fn tag(Path(slug): Path<Slug>) -> String {
        slug.slug
    }

    #[route(get, "/count/{n}/{m}")]
    async fn count(Path((n, m)): Path<(u8, u8)>) -> String {
        (n + m).to_string()
    }

    #[route(post, "/notes")]
    async fn note(Form(free): Form<Free>) -> String {
        free.note
    }
}

async fn hand_written(Valid(Json(order)): Valid<Json<Order>>) -> Json<usize> {
    Json(order.items.len())
}

/// The same order route, written by hand.
struct ByHand;

impl xcore::Plugin for ByHand {
    fn meta(&self) -> xcore::PluginMeta {
        xcore::PluginMeta::new("by-hand").prefix("/by-hand")
    }
    fn routes(self: std::sync::Arc<Self>) -> xcore::Routes {
        xcore::Routes::new().route(xcore::RouteInfo::post("/orders"), hand_written)
    }
}

async fn shop() -> TestClient {
    let app = App::new(common::config())
        .expect("app")
        .plugin(Shop)
        .plugin(ByHand);
    TestClient::new(app).await.expect("router")
}

#[tokio::test]
async fn nested_lists_queries_paths_and_forms_are_answered_field_by_field() {
    let client = shop().await;
    let bad = json!({"email": "pas-un-email", "items": [
        {"nom": "stylo", "quantite": 1},
        {"nom": "", "quantite": 0},
        {"nom": "cahier", "quantite": 100}
    ]});
    let before = HANDLED.load(Ordering::SeqCst);
    for path in ["/shop/orders", "/by-hand/orders"] {
        let response = client.post(path).json(&bad).send().await;
        assert_eq!(
            fields(&response),
            pairs(&[
                ("email", "email"),
                ("items[1].nom", "length"),
                ("items[1].quantite", "range"),
                ("items[2].quantite", "range"),
            ]),
            "{path}"
        );
        let wrong = json!({"email": "a@b.fr", "items": [{"nom": "stylo", "quantite": "deux"}]});
        let response = client.post(path).json(&wrong).send().await;
        assert_eq!(
            fields(&response),
            pairs(&[("items[0].quantite", "type")]),
            "{path}"
        );
        let empty = json!({"email": "a@b.fr", "items": []});
        let response = client.post(path).json(&empty).send().await;
        assert_eq!(fields(&response), pairs(&[("items", "length")]), "{path}");
    }
    assert_eq!(
        HANDLED.load(Ordering::SeqCst),
        before,
        "the handler never ran on a refused body"
    );
    let good = json!({"email": "a@b.fr", "items": [{"nom": "stylo", "quantite": 2}]});
    let response = client.post("/shop/orders").json(&good).send().await;
    assert_eq!(response.status(), 201, "{}", response.text());
    let response = client.post("/by-hand/orders").json(&good).send().await;
    assert_eq!(response.status(), 200, "{}", response.text());
    // Malformed JSON has no field to name: axum's 400, as JSON.
    let response = client
        .post("/shop/orders")
        .header("content-type", "application/json")
        .body("{\"email\":")
        .send()
        .await;
    assert_eq!(response.status(), 400);

    let response = client.get("/shop/orders?page=0&per_page=500").send().await;
    assert_eq!(
        fields(&response),
        pairs(&[("page", "range"), ("per_page", "range")])
    );
    let response = client.get("/shop/orders?page=abc").send().await;
    assert_eq!(fields(&response), pairs(&[("page", "invalid")]));
    let response = client.get("/shop/orders").send().await;
    assert_eq!(fields(&response), pairs(&[("page", "missing")]));
    assert_eq!(client.get("/shop/orders?page=2").send().await.text(), "2");

    let response = client.get("/shop/tags/ab").send().await;
    assert_eq!(fields(&response), pairs(&[("slug", "length")]));
    assert_eq!(client.get("/shop/tags/abc").send().await.text(), "abc");
    let response = client.get("/shop/count/1/x").send().await;
    assert_eq!(fields(&response), pairs(&[("m", "type")]));
    let response = client.get("/shop/count/300/1").send().await;
    assert_eq!(fields(&response), pairs(&[("n", "type")]));

    let response = client
        .post("/shop/notes")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("autre=1")
        .send()
        .await;
    assert_eq!(fields(&response), pairs(&[("note", "missing")]));
}

#[tokio::test]
async fn the_built_in_endpoints_name_the_field_they_refuse() {
    let client = TestClient::new(App::new(common::config()).expect("app"))
        .await
        .expect("router");
    let register = |body: Value| client.post("/auth/register").json(&body).send();
    let response = register(json!({"email": "pas-un-email", "password": "correct horse"})).await;
    assert_eq!(fields(&response), pairs(&[("email", "email")]));
    let response = register(json!({"email": "ada@example.com", "password": "court"})).await;
    assert_eq!(fields(&response), pairs(&[("password", "length")]));
    let response = register(json!({"email": "ada@example.com"})).await;
    assert_eq!(fields(&response), pairs(&[("password", "missing")]));
    let response = client
        .post("/auth/password/reset")
        .json(&json!({"token": "x", "new_password": "court"}))
        .send()
        .await;
    assert_eq!(fields(&response), pairs(&[("new_password", "length")]));
}

#[tokio::test]
async fn an_integral_float_is_an_integer_as_json_schema_counts_it() {
    let client = TestClient::new(seed_tour::app(common::config()).expect("app"))
        .await
        .expect("router");
    let admin = client.token("1", &["admin"]).expect("token");
    let post = |body: Value| {
        client
            .post("/catalogue/produits")
            .bearer(&admin)
            .json(&body)
            .send()
    };
    let response = post(json!({"nom": "Clavier", "prix_centimes": 4990.0})).await;
    assert_eq!(response.status(), 201, "{}", response.text());
    let stored: Value = response.json();
    assert_eq!(stored["prix_centimes"], 4990);
    let response = post(json!({"nom": "Souris", "prix_centimes": 4990.5})).await;
    assert_eq!(fields(&response), pairs(&[("prix_centimes", "type")]));
    let response = post(json!({"nom": "Tapis", "prix_centimes": -1.0})).await;
    assert_eq!(fields(&response), pairs(&[("prix_centimes", "range")]));
    // The body's content type is checked as axum does.
    let response = client
        .post("/catalogue/produits")
        .bearer(&admin)
        .header("content-type", "text/plain")
        .body(r#"{"nom": "Écran", "prix_centimes": 1}"#)
        .send()
        .await;
    assert_eq!(response.status(), 415);
    let response = client
        .post("/catalogue/produits")
        .bearer(&admin)
        .header("content-type", "application/vnd.api+json; charset=utf-8")
        .body(r#"{"nom": "Écran", "prix_centimes": 1}"#)
        .send()
        .await;
    assert_eq!(response.status(), 201, "{}", response.text());
}
