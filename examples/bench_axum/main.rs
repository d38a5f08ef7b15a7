//! The hand-written axum app `scripts/bench-http` measures `seed_tour`
//! against: the same answers to the same requests, written as a careful
//! axum user would, with nothing else (no request id, tracing, error
//! mapping, body limit or panic guard).
//!
//! | route | work |
//! |---|---|
//! | `GET /hello/` | the tour's greeting, as JSON |
//! | `GET /profil/jeton` | an HS256 bearer token checked, its subject and roles as JSON (401 without) |
//! | `GET /catalogue/produits` | 20 products from an in-process cache (computed once, then hits) |
//!
//! `XCORE_BIND` (default `127.0.0.1:8001`) is where it listens; the token
//! it accepts (minted at start with a random key, subject `1`, role
//! `admin`) is written to `BENCH_TOKEN_FILE` when set.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use bytes::Bytes;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    #[serde(default)]
    roles: Vec<String>,
}

struct Shared {
    key: DecodingKey,
    validation: Validation,
    products: quick_cache::sync::Cache<&'static str, Bytes>,
}

#[derive(Serialize)]
struct Greeting {
    message: &'static str,
}

async fn hello() -> Json<Greeting> {
    Json(Greeting {
        message: "Bonjour depuis xcore !",
    })
}

#[derive(Serialize)]
struct Me<'a> {
    id: &'a str,
    roles: &'a [String],
}

async fn me(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let Some(token) = token else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    match jsonwebtoken::decode::<Claims>(token, &shared.key, &shared.validation) {
        Ok(data) => Json(Me {
            id: &data.claims.sub,
            roles: &data.claims.roles,
        })
        .into_response(),
        Err(_) => StatusCode::UNAUTHORIZED.into_response(),
    }
}

#[derive(Serialize)]
struct Product {
    id: i64,
    nom: String,
    prix_centimes: i64,
}

async fn products(State(shared): State<Arc<Shared>>) -> Response {
    let body = shared
        .products
        .get_or_insert_with(&"produits:all", || {
            let list: Vec<Product> = (1..=20)
                .map(|id| Product {
                    id,
                    nom: format!("Produit {id}"),
                    prix_centimes: 100 * id,
                })
                .collect();
            serde_json::to_vec(&list).map(Bytes::from)
        })
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret: [u8; 32] = rand::random();
    let exp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() + 24 * 3600;
    let claims = Claims {
        sub: "1".into(),
        exp,
        roles: vec!["admin".into()],
    };
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&secret),
    )?;
    if let Ok(path) = std::env::var("BENCH_TOKEN_FILE") {
        std::fs::write(path, &token)?;
    }
    let shared = Arc::new(Shared {
        key: DecodingKey::from_secret(&secret),
        validation: Validation::new(Algorithm::HS256),
        products: quick_cache::sync::Cache::new(16),
    });
    let app = Router::new()
        .route("/hello/", get(hello))
        .route("/profil/jeton", get(me))
        .route("/catalogue/produits", get(products))
        .route("/health", get(|| async { "ok" }))
        .with_state(shared);
    let bind = std::env::var("XCORE_BIND").unwrap_or_else(|_| "127.0.0.1:8001".into());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
