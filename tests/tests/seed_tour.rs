//! The seed tour app, as the README's curl session drives it: in-process
//! for every case, and once over a real socket.

use crate::common;

use std::time::Duration;

use common::{config, error_code};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use xcore::testing::TestClient;
use xcore_examples::seed_tour;

async fn tour() -> TestClient {
    TestClient::new(seed_tour::app(config()).expect("app"))
        .await
        .expect("router")
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

    let credentials = serde_json::json!({"email": "ada@example.com", "password": "correct horse"});
    let created = client
        .post("/auth/register")
        .json(&credentials)
        .send()
        .await;
    assert_eq!(created.status(), 201);
    let id = created.json::<serde_json::Value>()["id"].clone();
    let pair: serde_json::Value = client
        .post("/auth/login")
        .json(&credentials)
        .send()
        .await
        .json();
    let token = pair["access_token"].as_str().expect("token");
    let response = client.get("/profil/moi").bearer(token).send().await;
    assert_eq!(response.status(), 200, "{}", response.text());
    assert_eq!(
        response.json::<serde_json::Value>(),
        serde_json::json!({"id": id, "email": "ada@example.com", "roles": [], "permissions": [], "totp_enabled": false, "email_verified": false, "recovery_codes_left": 0})
    );
    // What the token alone says, without the database.
    let jeton = client.get("/profil/jeton").bearer(token).send().await;
    assert_eq!(
        jeton.json::<serde_json::Value>(),
        serde_json::json!({"id": id.as_str().map_or_else(|| id.to_string(), str::to_owned), "roles": []})
    );
    assert_eq!(client.get("/profil/jeton").send().await.status(), 401);
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
    let client = TestClient::new(seed_tour::app(config()).expect("app"))
        .await
        .expect("router");
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

#[tokio::test]
async fn items_are_stored_in_the_database() {
    let client = tour().await;
    let listed: Vec<serde_json::Value> = client.get("/items/").send().await.json();
    assert_eq!(listed.len(), 3, "the sample items of migration 0002");

    let body = serde_json::json!({"nom": "Casque"});
    assert_eq!(
        client.post("/items/").json(&body).send().await.status(),
        401
    );
    let user = client.token("7", &["lecteur"]).expect("token");
    let created = client
        .post("/items/")
        .bearer(&user)
        .json(&body)
        .send()
        .await;
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json();
    assert_eq!(created["nom"], "Casque");
    assert_eq!(created["cree_par"], "7");

    for invalid in [
        serde_json::json!({}),
        serde_json::json!({"nom": ""}),
        serde_json::json!({"nom": 3}),
    ] {
        let response = client
            .post("/items/")
            .bearer(&user)
            .json(&invalid)
            .send()
            .await;
        assert_eq!(response.status(), 422, "{invalid}");
        assert_eq!(error_code(&response), "validation_failed");
    }
    let listed: Vec<serde_json::Value> = client.get("/items/").send().await.json();
    assert_eq!(listed.len(), 4, "invalid bodies created nothing");

    let admin = client.token("1", &["admin"]).expect("token");
    let missing = client.delete("/items/999").bearer(&admin).send().await;
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn catalogue_list_is_cached_and_flushed_on_creation() {
    for backend in common::services::caches() {
        let config = backend.apply(config());
        let client = TestClient::new(seed_tour::app(config).expect("app"))
            .await
            .expect("router");
        let admin = client.token("1", &["admin"]).expect("token");

        let first = client.get("/catalogue/produits").send().await;
        assert_eq!(first.header("x-cache"), Some("miss"), "{}", backend.name);
        assert_eq!(first.text(), "[]");
        assert_eq!(
            client
                .get("/catalogue/produits")
                .send()
                .await
                .header("x-cache"),
            Some("hit")
        );

        let produit = serde_json::json!({"nom": "Clavier", "prix_centimes": 4990});
        assert_eq!(
            client
                .post("/catalogue/produits")
                .json(&produit)
                .send()
                .await
                .status(),
            401
        );
        let reader = client.token("7", &["lecteur"]).expect("token");
        assert_eq!(
            client
                .post("/catalogue/produits")
                .bearer(&reader)
                .json(&produit)
                .send()
                .await
                .status(),
            403
        );
        assert_eq!(
            client
                .post("/catalogue/produits")
                .bearer(&admin)
                .json(&produit)
                .send()
                .await
                .status(),
            201
        );
        let duplicate = client
            .post("/catalogue/produits")
            .bearer(&admin)
            .json(&produit)
            .send()
            .await;
        assert_eq!(duplicate.status(), 409, "{}", backend.name);

        let after = client.get("/catalogue/produits").send().await;
        assert_eq!(
            after.header("x-cache"),
            Some("miss"),
            "{}: flushed by the creation",
            backend.name
        );
        let produits: Vec<serde_json::Value> = after.json();
        assert_eq!(produits.len(), 1);
        assert_eq!(produits[0]["prix_centimes"], 4990);
    }
}

#[tokio::test]
async fn dashboard_is_cached_per_user() {
    let client = tour().await;
    let ada = client.token("ada", &[]).expect("token");
    let bob = client.token("bob", &[]).expect("token");
    assert_eq!(
        client.get("/tableau-de-bord/stats").send().await.status(),
        401
    );

    let created = client
        .post("/items/")
        .bearer(&ada)
        .json(&serde_json::json!({"nom": "Agenda"}))
        .send()
        .await;
    assert_eq!(created.status(), 201);

    let first = client
        .get("/tableau-de-bord/stats")
        .bearer(&ada)
        .send()
        .await;
    assert_eq!(first.header("x-cache"), Some("miss"));
    let stats: serde_json::Value = first.json();
    assert_eq!(stats["utilisateur"], "ada");
    assert_eq!(stats["mes_items"], 1);
    assert_eq!(stats["items"], 4);

    let other = client
        .get("/tableau-de-bord/stats")
        .bearer(&bob)
        .send()
        .await;
    assert_eq!(
        other.header("x-cache"),
        Some("miss"),
        "another user, another entry"
    );
    assert_eq!(other.json::<serde_json::Value>()["mes_items"], 0);

    let again = client
        .get("/tableau-de-bord/stats")
        .bearer(&ada)
        .send()
        .await;
    assert_eq!(again.header("x-cache"), Some("hit"));
    assert_eq!(again.json::<serde_json::Value>()["utilisateur"], "ada");
}

#[tokio::test]
async fn adding_a_product_invalidates_the_list_and_every_dashboard() {
    let client = tour().await;
    let admin = client.token("root", &["admin"]).expect("token");
    let ada = client.token("ada", &[]).expect("token");
    let produits = |token: &str| {
        let request = client.get("/tableau-de-bord/stats").bearer(token);
        async move { request.send().await }
    };
    let before = produits(&ada).await;
    let count = before.json::<serde_json::Value>()["produits"].as_i64();
    assert_eq!(produits(&ada).await.header("x-cache"), Some("hit"));
    assert_eq!(produits(&admin).await.header("x-cache"), Some("miss"));
    assert_eq!(
        client
            .get("/catalogue/produits")
            .send()
            .await
            .header("x-cache"),
        Some("miss")
    );
    assert_eq!(
        client
            .get("/catalogue/produits")
            .send()
            .await
            .header("x-cache"),
        Some("hit")
    );

    let added = client
        .post("/catalogue/produits")
        .bearer(&admin)
        .json(&serde_json::json!({"nom": "Tapis", "prix_centimes": 990}))
        .send()
        .await;
    assert_eq!(added.status(), 201, "{}", added.text());

    for token in [&ada, &admin] {
        let after = produits(token).await;
        assert_eq!(
            after.header("x-cache"),
            Some("miss"),
            "every user's dashboard"
        );
        assert_eq!(
            after.json::<serde_json::Value>()["produits"].as_i64(),
            count.map(|n| n + 1)
        );
    }
    let list = client.get("/catalogue/produits").send().await;
    assert_eq!(list.header("x-cache"), Some("miss"));
    assert!(list.text().contains("Tapis"));
}

#[tokio::test]
async fn guarded_seed_routes_work_with_real_accounts() {
    let mut config = config();
    config.admin.email = Some("admin@example.com".into());
    config.admin.password = Some("admin password 123".into());
    let client = TestClient::new(seed_tour::app(config).expect("app"))
        .await
        .expect("router");
    let login = |email: &'static str, password: &'static str| {
        let client = client.clone();
        async move {
            let pair: serde_json::Value = client
                .post("/auth/login")
                .json(&serde_json::json!({"email": email, "password": password}))
                .send()
                .await
                .json();
            pair["access_token"].as_str().expect("token").to_owned()
        }
    };
    let register = client
        .post("/auth/register")
        .json(&serde_json::json!({"email": "ada@example.com", "password": "correct horse"}))
        .send()
        .await;
    assert_eq!(register.status(), 201);
    let ada = login("ada@example.com", "correct horse").await;
    let admin = login("admin@example.com", "admin password 123").await;

    let created = client
        .post("/items/")
        .bearer(&ada)
        .json(&serde_json::json!({"nom": "Lampe"}))
        .send()
        .await;
    assert_eq!(created.status(), 201);
    let id = created.json::<serde_json::Value>()["id"]
        .as_i64()
        .expect("id");
    assert_eq!(
        client
            .delete(&format!("/items/{id}"))
            .bearer(&ada)
            .send()
            .await
            .status(),
        403
    );
    assert_eq!(
        client
            .delete(&format!("/items/{id}"))
            .bearer(&admin)
            .send()
            .await
            .status(),
        204
    );
    let stats: serde_json::Value = client
        .get("/tableau-de-bord/stats")
        .bearer(&ada)
        .send()
        .await
        .json();
    assert_eq!(stats["mes_items"], 0);
}

#[tokio::test]
async fn codes_are_sent_and_verified_as_the_seed_shows() {
    let mailbox = common::Mailbox::default();
    let app = seed_tour::app(config())
        .expect("app")
        .otp_sender(mailbox.clone());
    let client = TestClient::new(app).await.expect("router");
    let user = client.token("42", &[]).expect("token");
    assert_eq!(client.post("/codes/envoyer").send().await.status(), 401);
    assert_eq!(
        client
            .post("/codes/envoyer")
            .bearer(&user)
            .send()
            .await
            .status(),
        202
    );
    let code = mailbox.last_code();
    let check = |code: String| {
        client
            .post("/codes/verifier")
            .bearer(&user)
            .json(&serde_json::json!({"code": code}))
            .send()
    };
    assert_eq!(
        check(code.clone()).await.json::<serde_json::Value>()["valide"],
        true
    );
    assert_eq!(
        check(code).await.json::<serde_json::Value>()["valide"],
        false,
        "single use"
    );
}

#[tokio::test]
async fn each_plugin_keeps_its_own_codes() {
    let mailbox = common::Mailbox::default();
    let app = seed_tour::app(config())
        .expect("app")
        .otp_sender(mailbox.clone());
    let client = TestClient::new(app).await.expect("router");
    let user = client.token("42", &[]).expect("token");
    assert_eq!(
        client
            .post("/codes/envoyer")
            .bearer(&user)
            .send()
            .await
            .status(),
        202
    );
    let plugin_code = mailbox.last_code();
    // The built-in /auth/otp flow neither accepts nor replaces the plugin's code.
    assert_eq!(
        client
            .post("/auth/otp/send")
            .bearer(&user)
            .send()
            .await
            .status(),
        202
    );
    let verify = client
        .post("/auth/otp/verify")
        .bearer(&user)
        .json(&serde_json::json!({"code": plugin_code}))
        .send()
        .await;
    if verify.status() == 200 {
        // Only possible if both flows drew the same six digits.
        assert_eq!(mailbox.last_code(), plugin_code);
    }
    let valid = client
        .post("/codes/verifier")
        .bearer(&user)
        .json(&serde_json::json!({"code": plugin_code}))
        .send()
        .await;
    assert_eq!(valid.json::<serde_json::Value>()["valide"], true);
}
