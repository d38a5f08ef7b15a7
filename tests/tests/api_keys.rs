//! API keys (issue 14): created by a signed-in user, shown once, accepted by
//! the guards with at most the owner's rights, revoked everywhere at once.
//! On SQLite with the in-process cache and on PostgreSQL with Redis, with two
//! instances sharing the database.

use serde_json::{Value, json};
use xcore::accounts::{AuditEntry, AuditQuery, Event};
use xcore::config::Config;
use xcore::prelude::*;
use xcore::testing::{TestClient, TestResponse};

use crate::common::services::{self, TestCache, TestDatabase};
use crate::common::{self};
use crate::otp::{base32_decode, hotp, now};

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

/// `POST /auth/api-keys` with `body`, confirmed with Ada's password unless
/// `body` names one.
async fn create_key(client: &TestClient, token: &str, mut body: Value) -> TestResponse {
    if body.get("password").is_none() {
        body["password"] = json!("correct horse");
    }
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
            .json(&json!({"name": "child", "password": "correct horse"}))
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
        assert_eq!(
            events,
            ["api_key_created", "api_key_used", "api_key_revoked"],
            "{stack}"
        );
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
                json!({"name": "child", "password": "correct horse"}),
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
                            .json(&json!({
                                "name": format!("child {i}"),
                                "password": "correct horse",
                            }))
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

/// Records of `event` about `user`, oldest first.
async fn audited(client: &TestClient, user: i64, event: Event) -> Vec<AuditEntry> {
    let mut query = AuditQuery::page(1, 200);
    query.user = Some(user);
    query.event = Some(event);
    let (_, mut entries) = client
        .state()
        .accounts()
        .audit()
        .page(&query)
        .await
        .expect("audit");
    entries.reverse();
    entries
}

fn field_path(response: &TestResponse) -> String {
    let body: Value = response.json();
    body["error"]["fields"][0]["path"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_stolen_access_token_alone_cannot_mint_a_key() {
    for (database, cache) in stacks().await {
        let stack = format!("{}+{}", database.name, cache.name);
        let client = instance(config(&database, &cache)).await;
        let (ada_id, token) = ada(&client).await;
        let ask = |body: Value| {
            let (client, token) = (client.clone(), token.clone());
            async move {
                client
                    .post("/auth/api-keys")
                    .bearer(&token)
                    .json(&body)
                    .send()
                    .await
            }
        };

        // The token alone: the password is asked for; a wrong one is a
        // 403, audited with what it was for.
        let bare = ask(json!({"name": "stolen"})).await;
        assert_eq!(bare.status(), 422, "{stack}: {}", bare.text());
        let wrong = ask(json!({"name": "stolen", "password": "guess"})).await;
        assert_eq!(wrong.status(), 403, "{stack}: {}", wrong.text());
        let failed = audited(&client, ada_id, Event::PasswordCheckFailed).await;
        assert_eq!(failed.len(), 1, "{stack}");
        assert_eq!(failed[0].detail["for"], "api_key", "{stack}");
        let right = ask(json!({"name": "ci", "password": "correct horse"})).await;
        assert_eq!(right.status(), 201, "{stack}: {}", right.text());

        // With TOTP on, the authenticator's current code as well.
        let setup: Value = client
            .post("/auth/totp/setup")
            .bearer(&token)
            .json(&json!({"password": "correct horse"}))
            .send()
            .await
            .json();
        let secret = base32_decode(setup["secret"].as_str().expect("secret"));
        let confirmed = client
            .post("/auth/totp/confirm")
            .bearer(&token)
            .json(&json!({"code": hotp(&secret, now() / 30 - 1, 6)}))
            .send()
            .await;
        assert_eq!(confirmed.status(), 200, "{stack}: {}", confirmed.text());
        let no_code = ask(json!({"name": "ci", "password": "correct horse"})).await;
        assert_eq!(no_code.status(), 422, "{stack}: {}", no_code.text());
        assert_eq!(field_path(&no_code), "code", "{stack}");
        let wrong_code = ask(json!({
            "name": "ci", "password": "correct horse", "code": "000000",
        }))
        .await;
        assert_eq!(wrong_code.status(), 400, "{stack}: {}", wrong_code.text());
        let failed = audited(&client, ada_id, Event::CodeCheckFailed).await;
        assert_eq!(
            failed.last().map(|e| &e.detail["for"]),
            Some(&json!("api_key"))
        );
        let with_code = ask(json!({
            "name": "ci", "password": "correct horse", "code": hotp(&secret, now() / 30, 6),
        }))
        .await;
        assert_eq!(with_code.status(), 201, "{stack}: {}", with_code.text());
        let keys: Value = client
            .get("/auth/api-keys")
            .bearer(&token)
            .send()
            .await
            .json();
        assert_eq!(keys.as_array().map(Vec::len), Some(2), "{stack}");
    }
}

#[tokio::test]
async fn keys_have_a_lifetime_by_default_and_at_most_the_maximum() {
    for (database, cache) in stacks().await {
        let stack = format!("{}+{}", database.name, cache.name);
        let client = instance(config(&database, &cache)).await;
        let (_, token) = ada(&client).await;
        let days = |key: &Value| {
            let lifetime = key["expires_at"].as_i64().expect("a lifetime")
                - key["created_at"].as_i64().expect("created");
            lifetime / 86_400
        };
        let default: Value = create_key(&client, &token, json!({"name": "default"}))
            .await
            .json();
        assert_eq!(days(&default), 90, "{stack}: {default}");
        let year: Value = create_key(
            &client,
            &token,
            json!({"name": "year", "expires_in_days": 365}),
        )
        .await
        .json();
        assert_eq!(days(&year), 365, "{stack}");
        for too_long in [366, 100_000, 0] {
            let refused = create_key(
                &client,
                &token,
                json!({"name": "forever", "expires_in_days": too_long}),
            )
            .await;
            assert_eq!(refused.status(), 422, "{stack}: {}", refused.text());
            assert_eq!(field_path(&refused), "expires_in_days", "{stack}");
        }

        // Keys until revoked only when the configuration allows them.
        let mut unbounded = config(&database, &cache);
        unbounded.auth.api_key_default_days = 0;
        unbounded.auth.api_key_max_days = 0;
        let other = instance(unbounded).await;
        let pair: Value = other
            .post("/auth/login")
            .json(&json!({"email": "ada@example.com", "password": "correct horse"}))
            .send()
            .await
            .json();
        let token = pair["access_token"].as_str().expect("token");
        let forever: Value = create_key(&other, token, json!({"name": "forever"}))
            .await
            .json();
        assert_eq!(forever["expires_at"], Value::Null, "{stack}: {forever}");
    }
}

#[tokio::test]
async fn an_administrator_lists_and_ends_a_users_keys_and_sessions() {
    for (database, cache) in stacks().await {
        let stack = format!("{}+{}", database.name, cache.name);
        let client = instance(config(&database, &cache)).await;
        let (ada_id, token) = ada(&client).await;
        let key: Value = create_key(&client, &token, json!({"name": "ci"}))
            .await
            .json();
        let (key_id, key) = (
            key["id"].as_str().expect("id"),
            key["key"].as_str().expect("key"),
        );
        let root = json!({"email": "root@example.com", "password": "analytical engine"});
        let created: Value = client
            .post("/auth/register")
            .json(&root)
            .send()
            .await
            .json();
        let root_id = created["id"].as_i64().expect("id");
        let accounts = client.state().accounts();
        accounts
            .access()
            .grant_role(root_id, xcore::accounts::ADMIN_ROLE)
            .await
            .expect("admin");
        let admin: Value = client.post("/auth/login").json(&root).send().await.json();
        let admin = admin["access_token"].as_str().expect("token");

        // Only an administrator sees them.
        let keys_path = format!("/admin/users/{ada_id}/api-keys");
        let as_ada = client.get(&keys_path).bearer(&token).send().await;
        assert_eq!(as_ada.status(), 403, "{stack}");
        assert_eq!(with_key(&client, "/vault/signed-in", key).await, 200);
        let listed = client.get(&keys_path).bearer(admin).send().await;
        assert_eq!(listed.status(), 200, "{stack}: {}", listed.text());
        assert!(!listed.text().contains(&key[20..]), "{stack}: no secret");
        let listed: Value = listed.json();
        assert_eq!(listed[0]["id"], key_id, "{stack}");
        assert_eq!(listed[0]["last_used_from"], "127.0.0.1", "{stack}");
        let sessions_path = format!("/admin/users/{ada_id}/sessions");
        let sessions: Value = client.get(&sessions_path).bearer(admin).send().await.json();
        assert_eq!(
            sessions.as_array().map(Vec::len),
            Some(1),
            "{stack}: {sessions}"
        );
        let first = sessions[0]["id"].clone();
        let credentials = json!({"email": "ada@example.com", "password": "correct horse"});
        let second: Value = client
            .post("/auth/login")
            .json(&credentials)
            .send()
            .await
            .json();
        let second = second["access_token"].as_str().expect("token");
        let sessions: Value = client.get(&sessions_path).bearer(admin).send().await.json();
        assert_eq!(
            sessions.as_array().map(Vec::len),
            Some(2),
            "{stack}: {sessions}"
        );
        let unknown = client
            .get("/admin/users/999999/sessions")
            .bearer(admin)
            .send()
            .await;
        assert_eq!(unknown.status(), 404, "{stack}");

        // A key revoked by the administrator, audited as theirs.
        let revoke = format!("{keys_path}/{key_id}");
        assert_eq!(
            client.delete(&revoke).bearer(admin).send().await.status(),
            204
        );
        assert_eq!(with_key(&client, "/vault/signed-in", key).await, 401);
        assert_eq!(
            client.delete(&revoke).bearer(admin).send().await.status(),
            404
        );
        let revoked = audited(&client, ada_id, Event::ApiKeyRevoked).await;
        assert_eq!(
            revoked.last().and_then(|e| e.actor),
            Some(root_id),
            "{stack}"
        );

        // One session, then every one.
        let newest = sessions
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| &s["id"])
            .find(|id| **id != first)
            .and_then(Value::as_str)
            .expect("the second session");
        let end_one = format!("{sessions_path}/{newest}");
        assert_eq!(
            client.delete(&end_one).bearer(admin).send().await.status(),
            204
        );
        let me = |token: &str| {
            let (client, token) = (client.clone(), token.to_owned());
            async move { client.get("/auth/me").bearer(&token).send().await.status() }
        };
        assert_eq!(me(second).await, 401, "{stack}: the newest session ended");
        assert_eq!(me(&token).await, 200, "{stack}: the other lives");
        let missing = format!("{sessions_path}/no-such-session");
        assert_eq!(
            client.delete(&missing).bearer(admin).send().await.status(),
            404
        );
        assert_eq!(
            client
                .delete(&sessions_path)
                .bearer(admin)
                .send()
                .await
                .status(),
            204
        );
        assert_eq!(me(&token).await, 401, "{stack}: every session ended");
        let left: Value = client.get(&sessions_path).bearer(admin).send().await.json();
        assert_eq!(left, json!([]), "{stack}");
    }
}

#[tokio::test]
async fn the_owner_sees_where_a_key_was_last_used_and_a_new_address_is_audited() {
    for (database, cache) in stacks().await {
        let stack = format!("{}+{}", database.name, cache.name);
        let client = instance(config(&database, &cache)).await;
        let (ada_id, token) = ada(&client).await;
        let key: Value = create_key(&client, &token, json!({"name": "ci"}))
            .await
            .json();
        let key = key["key"].as_str().expect("key").to_owned();
        let use_from = |ip: &str| {
            let (client, key) = (client.clone(), key.clone());
            let ip = ip.parse().expect("ip");
            async move {
                client
                    .get("/vault/signed-in")
                    .header("x-api-key", &key)
                    .from_ip(ip)
                    .send()
                    .await
                    .status()
            }
        };
        let last_use = || {
            let (client, token) = (client.clone(), token.clone());
            async move {
                let keys: Value = client
                    .get("/auth/api-keys")
                    .bearer(&token)
                    .send()
                    .await
                    .json();
                keys[0]["last_used_from"].clone()
            }
        };
        // The minute between two records, passed at once.
        let a_minute_later = || async {
            xcore::sqlx::query("UPDATE xcore_api_keys SET last_used_at = last_used_at - 120")
                .execute(client.db().pool())
                .await
                .expect("moved back");
        };

        assert_eq!(last_use().await, Value::Null, "{stack}");
        assert_eq!(use_from("192.0.2.1").await, 200);
        assert_eq!(use_from("192.0.2.1").await, 200);
        assert_eq!(last_use().await, "192.0.2.1", "{stack}");
        a_minute_later().await;
        assert_eq!(use_from("192.0.2.1").await, 200);
        let used = audited(&client, ada_id, Event::ApiKeyUsed).await;
        assert_eq!(used.len(), 1, "{stack}: the first address, once");

        // A hundred requests at once from another address: one record.
        a_minute_later().await;
        let uses: Vec<_> = (0..100)
            .map(|_| tokio::spawn(use_from("198.51.100.7")))
            .collect();
        for status in uses {
            assert_eq!(status.await.expect("task"), 200, "{stack}");
        }
        assert_eq!(last_use().await, "198.51.100.7", "{stack}");
        let used = audited(&client, ada_id, Event::ApiKeyUsed).await;
        assert_eq!(used.len(), 2, "{stack}: {used:?}");
        assert_eq!(used[1].address.as_deref(), Some("198.51.100.7"), "{stack}");
        assert_eq!(used[1].actor, Some(ada_id), "{stack}");
        assert!(
            !format!("{used:?}").contains(&key[20..]),
            "{stack}: no secret"
        );
    }
}
