//! API keys (issue 14): created by a signed-in user, shown once, accepted by
//! the guards with at most the owner's rights, revoked everywhere at once.
//! On SQLite with the in-process cache and on PostgreSQL with Redis, with two
//! instances sharing the database.

use serde_json::{Value, json};
use xcore::config::Config;
use xcore::prelude::*;
use xcore::testing::{TestClient, TestResponse};

use crate::common::services::{self, TestCache, TestDatabase};
use crate::common::{self};

/// Routes behind each kind of guard.
struct Vault;

#[plugin(name = "vault", prefix = "/vault")]
impl Vault {
    #[route(get, "/read", permission = "x:read")]
    async fn read(user: CurrentUser) -> String {
        format!("read by {} with key {:?}", user.id(), user.api_key())
    }

    #[route(get, "/write", permission = "x:write")]
    async fn write() -> &'static str {
        "written"
    }

    #[route(get, "/keeper", auth = "keeper")]
    async fn keeper() -> &'static str {
        "keeper"
    }

    #[route(get, "/admin", auth = "admin")]
    async fn admin() -> &'static str {
        "admin"
    }

    #[route(get, "/signed-in", auth)]
    async fn signed_in() -> &'static str {
        "any signed-in user"
    }

    #[route(get, "/who")]
    async fn who(user: Option<CurrentUser>) -> String {
        user.map_or("anonymous".to_owned(), |user| user.id().to_owned())
    }
}

async fn stacks() -> Vec<(TestDatabase, TestCache)> {
    services::databases()
        .await
        .into_iter()
        .zip(services::caches())
        .collect()
}

fn config(database: &TestDatabase, cache: &TestCache) -> Config {
    cache.apply(common::config().with_database_url(database.url.as_str()))
}

async fn instance(config: Config) -> TestClient {
    TestClient::new(App::new(config).expect("app").plugin(Vault))
        .await
        .expect("app")
}

/// Ada, a keeper (role `keeper`, permissions `x:read` and `x:write`):
/// her user id and access token.
async fn ada(client: &TestClient) -> (i64, String) {
    let credentials = json!({"email": "ada@example.com", "password": "correct horse"});
    let created = client
        .post("/auth/register")
        .json(&credentials)
        .send()
        .await;
    assert_eq!(created.status(), 201, "{}", created.text());
    let id = created.json::<Value>()["id"].as_i64().expect("id");
    let access = client.state().accounts().access();
    access.create_role("keeper", None).await.expect("role");
    for permission in ["x:read", "x:write"] {
        access
            .create_permission(permission, None)
            .await
            .expect("permission");
        access
            .grant_permission("keeper", permission)
            .await
            .expect("grant");
    }
    access.grant_role(id, "keeper").await.expect("role");
    let pair: Value = client
        .post("/auth/login")
        .json(&credentials)
        .send()
        .await
        .json();
    (id, pair["access_token"].as_str().expect("token").to_owned())
}

async fn create_key(client: &TestClient, token: &str, body: Value) -> TestResponse {
    client
        .post("/auth/api-keys")
        .bearer(token)
        .json(&body)
        .send()
        .await
}

async fn with_key(client: &TestClient, path: &str, key: &str) -> u16 {
    client
        .get(path)
        .header("x-api-key", key)
        .send()
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_key_passes_the_guards_its_owner_passes_within_its_permissions() {
    for (database, cache) in stacks().await {
        let stack = format!("{}+{}", database.name, cache.name);
        let client = instance(config(&database, &cache)).await;
        let (ada_id, token) = ada(&client).await;

        let created = create_key(
            &client,
            &token,
            json!({"name": "reader", "permissions": ["x:read"]}),
        )
        .await;
        assert_eq!(created.status(), 201, "{stack}: {}", created.text());
        let created: Value = created.json();
        let key = created["key"].as_str().expect("key").to_owned();
        assert!(key.starts_with("xk_"), "{stack}: {key}");

        assert!(
            !client
                .get("/auth/api-keys")
                .bearer(&token)
                .send()
                .await
                .text()
                .contains(&key),
            "{stack}: the key is shown once"
        );
        let document: Value = client.get("/openapi.json").send().await.json();
        assert_eq!(
            document["components"]["securitySchemes"]["apiKey"]["name"], "X-API-Key",
            "{stack}"
        );
        assert_eq!(
            document["paths"]["/vault/read"]["get"]["security"][1],
            json!({"apiKey": []}),
            "{stack}"
        );

        // Both ways of sending it; the handler sees the owner and the key.
        let read = client.get("/vault/read").bearer(&key).send().await;
        assert_eq!(read.status(), 200, "{stack}: {}", read.text());
        assert!(
            read.text()
                .contains(&format!("read by {ada_id} with key Some(")),
            "{stack}: {}",
            read.text()
        );
        assert_eq!(with_key(&client, "/vault/read", &key).await, 200, "{stack}");
        // Limited to x:read: not x:write, nor the owner's role.
        assert_eq!(
            with_key(&client, "/vault/write", &key).await,
            403,
            "{stack}"
        );
        assert_eq!(
            with_key(&client, "/vault/keeper", &key).await,
            403,
            "{stack}"
        );
        // What the owner fails, the key fails.
        assert_eq!(
            with_key(&client, "/vault/admin", &key).await,
            403,
            "{stack}"
        );
        assert_eq!(
            client
                .get("/vault/admin")
                .bearer(&token)
                .send()
                .await
                .status(),
            403
        );

        // A key without a list carries the owner's roles and permissions.
        let full: Value = create_key(&client, &token, json!({"name": "full"}))
            .await
            .json();
        let full = full["key"].as_str().expect("key").to_owned();
        assert_eq!(
            with_key(&client, "/vault/keeper", &full).await,
            200,
            "{stack}"
        );
        assert_eq!(
            with_key(&client, "/vault/write", &full).await,
            200,
            "{stack}"
        );

        // The owner loses the role: both keys lose it on the next request.
        client
            .state()
            .accounts()
            .access()
            .revoke_role(ada_id, "keeper")
            .await
            .expect("revoke");
        assert_eq!(
            with_key(&client, "/vault/keeper", &full).await,
            403,
            "{stack}"
        );
        assert_eq!(with_key(&client, "/vault/read", &key).await, 403, "{stack}");

        // Never more than the owner holds; a key cannot mint keys.
        let too_much = create_key(
            &client,
            &token,
            json!({"name": "admin", "permissions": ["x:read"]}),
        )
        .await;
        assert_eq!(too_much.status(), 422, "{stack}: {}", too_much.text());
        let by_key = client
            .post("/auth/api-keys")
            .header("x-api-key", &full)
            .json(&json!({"name": "child"}))
            .send()
            .await;
        assert_eq!(by_key.status(), 403, "{stack}: {}", by_key.text());

        // Listed without secrets; wrong or mangled keys are a 401.
        let listed = client.get("/auth/api-keys").bearer(&token).send().await;
        assert_eq!(listed.status(), 200);
        assert!(
            !listed.text().contains(&key[10..]),
            "{stack}: {}",
            listed.text()
        );
        let listed: Value = listed.json();
        assert_eq!(listed.as_array().map(Vec::len), Some(2), "{stack}");
        let mut forged = key.clone();
        forged.pop();
        forged.push(if key.ends_with('0') { '1' } else { '0' });
        assert_eq!(
            with_key(&client, "/vault/read", &forged).await,
            401,
            "{stack}"
        );
        assert_eq!(
            with_key(&client, "/vault/read", "xk_nonsense").await,
            401,
            "{stack}"
        );
    }
}

#[tokio::test]
async fn a_revoked_key_is_refused_on_the_next_request_on_every_instance() {
    for (database, cache) in stacks().await {
        let stack = format!("{}+{}", database.name, cache.name);
        let one = instance(config(&database, &cache)).await;
        let two = instance(config(&database, &cache)).await;
        let (_, token) = ada(&one).await;
        let created: Value = create_key(&one, &token, json!({"name": "ci", "expires_in_days": 30}))
            .await
            .json();
        let key = created["key"].as_str().expect("key").to_owned();
        let id = created["id"].as_str().expect("id").to_owned();
        assert!(
            created["expires_at"].as_i64().is_some(),
            "{stack}: {created}"
        );
        assert_eq!(with_key(&one, "/vault/read", &key).await, 200, "{stack}");
        assert_eq!(with_key(&two, "/vault/read", &key).await, 200, "{stack}");

        let revoked = one
            .delete(&format!("/auth/api-keys/{id}"))
            .bearer(&token)
            .send()
            .await;
        assert_eq!(revoked.status(), 204, "{stack}: {}", revoked.text());
        assert_eq!(with_key(&one, "/vault/read", &key).await, 401, "{stack}");
        assert_eq!(
            with_key(&two, "/vault/read", &key).await,
            401,
            "{stack}: other instance"
        );
        assert_eq!(
            one.delete(&format!("/auth/api-keys/{id}"))
                .bearer(&token)
                .send()
                .await
                .status(),
            404,
            "{stack}"
        );
        let events: Vec<(String,)> = xcore::sqlx::query_as(
            "SELECT event FROM xcore_audit WHERE event LIKE 'api_key%' ORDER BY id",
        )
        .fetch_all(one.db().pool())
        .await
        .expect("audit");
        let events: Vec<&str> = events.iter().map(|(e,)| e.as_str()).collect();
        assert_eq!(events, ["api_key_created", "api_key_revoked"], "{stack}");
    }
}

#[tokio::test]
async fn a_scoped_key_reaches_only_routes_naming_its_permissions_and_no_key_manages_the_account() {
    for (database, cache) in stacks().await {
        let stack = format!("{}+{}", database.name, cache.name);
        let client = instance(config(&database, &cache)).await;
        let (ada_id, token) = ada(&client).await;
        let key_of = |created: Value| created["key"].as_str().expect("key").to_owned();
        let scoped = key_of(
            create_key(
                &client,
                &token,
                json!({"name": "reader", "permissions": ["x:read"]}),
            )
            .await
            .json(),
        );
        let nothing = key_of(
            create_key(&client, &token, json!({"name": "empty", "permissions": []}))
                .await
                .json(),
        );
        let full = key_of(
            create_key(&client, &token, json!({"name": "full"}))
                .await
                .json(),
        );

        // Routes whose guard names no permission: only the full key.
        for key in [&scoped, &nothing] {
            assert_eq!(
                with_key(&client, "/vault/signed-in", key).await,
                403,
                "{stack}"
            );
            assert_eq!(with_key(&client, "/vault/who", key).await, 403, "{stack}");
            assert_eq!(with_key(&client, "/auth/me", key).await, 403, "{stack}");
            let otp = client
                .post("/auth/otp/send")
                .header("x-api-key", key)
                .send()
                .await;
            assert_eq!(otp.status(), 403, "{stack}: {}", otp.text());
        }
        assert_eq!(
            with_key(&client, "/vault/read", &scoped).await,
            200,
            "{stack}"
        );
        assert_eq!(
            with_key(&client, "/vault/read", &nothing).await,
            403,
            "{stack}"
        );
        assert_eq!(
            with_key(&client, "/vault/signed-in", &full).await,
            200,
            "{stack}"
        );
        assert_eq!(with_key(&client, "/vault/who", "").await, 401, "{stack}");
        let anonymous = client.get("/vault/who").send().await;
        assert_eq!(anonymous.text(), "anonymous");

        // The account itself: a session only, whatever the key.
        let listed: Value = client
            .get("/auth/api-keys")
            .bearer(&token)
            .send()
            .await
            .json();
        let scoped_id = listed
            .as_array()
            .expect("keys")
            .iter()
            .find(|k| k["name"] == "reader")
            .expect("reader")["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let management = [
            ("POST", "/auth/logout-all".to_owned(), json!({})),
            (
                "POST",
                "/auth/password".to_owned(),
                json!({"current_password": "correct horse", "new_password": "battery staple"}),
            ),
            (
                "POST",
                "/auth/api-keys".to_owned(),
                json!({"name": "child"}),
            ),
            ("GET", "/auth/api-keys".to_owned(), json!(null)),
            ("DELETE", format!("/auth/api-keys/{scoped_id}"), json!(null)),
            (
                "POST",
                "/auth/totp/setup".to_owned(),
                json!({"password": "correct horse"}),
            ),
            (
                "POST",
                "/auth/totp/confirm".to_owned(),
                json!({"code": "123456"}),
            ),
            (
                "POST",
                "/auth/totp/recovery-codes".to_owned(),
                json!({"password": "correct horse", "code": "123456"}),
            ),
            (
                "DELETE",
                "/auth/totp".to_owned(),
                json!({"password": "correct horse", "code": "123456"}),
            ),
        ];
        for (method, path, body) in &management {
            let mut request = client
                .request(method.parse().expect("method"), path)
                .header("x-api-key", &full);
            if !body.is_null() {
                request = request.json(body);
            }
            let refused = request.send().await;
            assert_eq!(
                refused.status(),
                403,
                "{stack}: {method} {path}: {}",
                refused.text()
            );
        }
        // Nothing changed: the keys and the password are as they were.
        let listed: Value = client
            .get("/auth/api-keys")
            .bearer(&token)
            .send()
            .await
            .json();
        assert_eq!(listed.as_array().map(Vec::len), Some(3), "{stack}");
        assert_eq!(
            with_key(&client, "/vault/read", &scoped).await,
            200,
            "{stack}"
        );
        let me = client.get("/auth/me").bearer(&token).send().await;
        assert_eq!(me.status(), 200, "{stack}: the session lives");
        let _ = ada_id;
    }
}

#[tokio::test]
async fn a_hundred_requests_at_once_with_a_key_neither_mint_keys_nor_pass_a_bare_guard() {
    for (database, cache) in stacks().await {
        let stack = format!("{}+{}", database.name, cache.name);
        let client = instance(config(&database, &cache)).await;
        let (_, token) = ada(&client).await;
        let key_of = |created: Value| created["key"].as_str().expect("key").to_owned();
        let full = key_of(
            create_key(&client, &token, json!({"name": "full"}))
                .await
                .json(),
        );
        let scoped = key_of(
            create_key(
                &client,
                &token,
                json!({"name": "reader", "permissions": ["x:read"]}),
            )
            .await
            .json(),
        );
        let tasks: Vec<_> = (0..100)
            .map(|i| {
                let client = client.clone();
                let (full, scoped) = (full.clone(), scoped.clone());
                tokio::spawn(async move {
                    if i % 2 == 0 {
                        client
                            .post("/auth/api-keys")
                            .header("x-api-key", &full)
                            .json(&json!({"name": format!("child {i}")}))
                            .send()
                            .await
                            .status()
                            .as_u16()
                    } else {
                        with_key(&client, "/vault/signed-in", &scoped).await
                    }
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.expect("task"), 403, "{stack}");
        }
        let listed: Value = client
            .get("/auth/api-keys")
            .bearer(&token)
            .send()
            .await
            .json();
        assert_eq!(
            listed.as_array().map(Vec::len),
            Some(2),
            "{stack}: no key was minted"
        );
    }
}
