//! The seed tour app, as the README's curl session drives it: in-process
//! for every case, and once over a real socket.

mod common;

use std::time::Duration;

use common::{config, error_code};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use xcore::testing::TestClient;
use xcore_examples::seed_tour;

async fn tour() -> TestClient {
    TestClient::new(seed_tour::app(config()).expect("app")).await.expect("router")
}

#[tokio::test]
async fn hello_is_public() {
    let response = tour().await.get("/hello/").send().await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>()["message"],
        "Bonjour depuis xcore !"
    );
}

#[tokio::test]
async fn profil_needs_a_token_and_returns_the_user() {
    let client = tour().await;
    let response = client.get("/profil/moi").send().await;
    assert_eq!(response.status(), 401);
    assert_eq!(response.header("www-authenticate"), Some("Bearer"));

    let claims = client
        .claims("42")
        .with_email("ada@example.com")
        .with_roles(["reader"]);
    let token = client.token_for(&claims).expect("token");
    let response = client.get("/profil/moi").bearer(&token).send().await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>(),
        serde_json::json!({"id": "42", "email": "ada@example.com", "roles": ["reader"]})
    );
}

#[tokio::test]
async fn deleting_an_item_is_for_admins() {
    let client = tour().await;
    assert_eq!(client.delete("/items/1").send().await.status(), 401);

    let reader = client.token("7", &["reader"]).expect("token");
    let response = client.delete("/items/1").bearer(&reader).send().await;
    assert_eq!(response.status(), 403);
    assert_eq!(error_code(&response), "forbidden");

    let admin = client.token("1", &["admin"]).expect("token");
    assert_eq!(
        client
            .delete("/items/1")
            .bearer(&admin)
            .send()
            .await
            .status(),
        204
    );
    let again = client.delete("/items/1").bearer(&admin).send().await;
    assert_eq!(again.status(), 404);
    assert_eq!(error_code(&again), "not_found");

    let listed: Vec<serde_json::Value> = client.get("/items/").send().await.json();
    assert!(listed.iter().all(|item| item["id"] != 1));
    assert_eq!(listed.len(), 2);
}

#[tokio::test]
async fn unknown_route_is_json() {
    let response = tour().await.get("/nope").send().await;
    assert_eq!(response.status(), 404);
    assert_eq!(error_code(&response), "not_found");
}

/// Minimal HTTP/1.1 exchange, so this test depends on no HTTP client.
async fn raw_request(addr: std::net::SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    response
}

#[tokio::test]
async fn serves_over_a_real_socket() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = seed_tour::app(config()).expect("app");
    let client = TestClient::new(seed_tour::app(config()).expect("app")).await.expect("router");
    let admin = client.token("1", &["admin"]).expect("token");
    let server = tokio::spawn(app.serve(listener));

    let hello = raw_request(
        addr,
        "GET /hello/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(hello.starts_with("HTTP/1.1 200"), "{hello}");
    assert!(hello.contains("Bonjour"));

    let denied = raw_request(
        addr,
        "GET /profil/moi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(denied.starts_with("HTTP/1.1 401"), "{denied}");
    assert!(
        denied
            .to_ascii_lowercase()
            .contains("www-authenticate: bearer")
    );

    let deleted = raw_request(
        addr,
        &format!("DELETE /items/2 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert!(deleted.starts_with("HTTP/1.1 204"), "{deleted}");

    let garbage = tokio::time::timeout(
        Duration::from_secs(5),
        raw_request(addr, "NOT HTTP AT ALL\r\n\r\n"),
    )
    .await
    .expect("the server answers or closes");
    assert!(
        garbage.is_empty() || garbage.starts_with("HTTP/1.1 400"),
        "{garbage}"
    );

    let still = raw_request(
        addr,
        "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(still.starts_with("HTTP/1.1 200"), "{still}");
    server.abort();
}
