//! The accounts services tried as an attacker would: many requests at once,
//! floods of password hashing, a first administrator taken over, text the
//! database refuses, a login racing a revocation, foreign tokens. Each runs
//! on SQLite with the in-process cache and on PostgreSQL with Redis.

use std::net::IpAddr;
use std::time::Duration;

use serde_json::{Value, json};
use xcore::config::{Config, Environment};
use xcore::prelude::*;
use xcore::security::PasswordParams;
use xcore::testing::{TestClient, TestResponse};
use xcore_examples::seed_tour;

use crate::common::process::Server;
use crate::common::services::{self, TestCache, TestDatabase};
use crate::common::{self, Mailbox};
use crate::otp::{base32_decode, hotp, now};

/// SQLite with the in-process cache, and PostgreSQL with Redis.
struct Stack {
    name: &'static str,
    database: TestDatabase,
    cache: TestCache,
}

impl Stack {
    fn config(&self) -> Config {
        self.cache
            .apply(common::config())
            .with_database_url(self.database.url.as_str())
    }
}

async fn stacks() -> Vec<Stack> {
    let databases = services::databases().await;
    let caches = services::caches();
    databases
        .into_iter()
        .zip(caches)
        .map(|(database, cache)| Stack {
            name: if cache.url.is_some() {
                "postgres+redis"
            } else {
                "sqlite+memory"
            },
            database,
            cache,
        })
        .collect()
}

async fn client(config: Config) -> TestClient {
    TestClient::new(
        seed_tour::app(config)
            .expect("app")
            .otp_sender(Mailbox::default())
            .mailer(Mailbox::default()),
    )
    .await
    .expect("app")
}

fn credentials(email: &str, password: &str) -> Value {
    json!({"email": email, "password": password})
}

async fn register(client: &TestClient, email: &str, password: &str) -> i64 {
    let created = client
        .post("/auth/register")
        .json(&credentials(email, password))
        .send()
        .await;
    assert_eq!(created.status(), 201, "{}", created.text());
    created.json::<Value>()["id"].as_i64().expect("id")
}

async fn login(client: &TestClient, email: &str, password: &str) -> TestResponse {
    client
        .post("/auth/login")
        .json(&credentials(email, password))
        .send()
        .await
}

async fn token(client: &TestClient, email: &str, password: &str) -> String {
    let pair: Value = login(client, email, password).await.json();
    pair["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token: {pair}"))
        .to_owned()
}

/// Sends `count` copies of a request at once.
async fn at_once<F, Fut>(count: usize, request: F) -> Vec<TestResponse>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = TestResponse> + Send + 'static,
{
    let tasks: Vec<_> = (0..count).map(|i| tokio::spawn(request(i))).collect();
    let mut responses = Vec::with_capacity(count);
    for task in tasks {
        responses.push(task.await.expect("request task"));
    }
    responses
}

fn count(responses: &[TestResponse], status: u16) -> usize {
    responses.iter().filter(|r| r.status() == status).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_wrong_passwords_at_once_check_at_most_the_limit() {
    for stack in stacks().await {
        let config = stack.config();
        let limit = config.auth.login_max_failures as usize;
        let client = client(config).await;
        register(&client, "ada@example.com", "correct horse").await;
        let pool = client.state().accounts().hash_pool().clone();
        let before = pool.completed();
        let responses = at_once(100, |_| {
            let client = client.clone();
            async move { login(&client, "ada@example.com", "wrong guess").await }
        })
        .await;
        let checked = usize::try_from(pool.completed() - before).expect("count");
        assert!(
            checked <= limit,
            "{}: {checked} passwords checked, the limit is {limit}",
            stack.name
        );
        assert_eq!(count(&responses, 401), checked, "{}", stack.name);
        assert_eq!(count(&responses, 429), 100 - checked, "{}", stack.name);
        assert!(
            responses
                .iter()
                .filter(|r| r.status() == 429)
                .all(|r| r.header("retry-after").is_some())
        );
        // Locked: even the right password waits for the window.
        let right = login(&client, "ada@example.com", "correct horse").await;
        assert_eq!(right.status(), 429, "{}", stack.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn password_spraying_from_one_address_is_limited_there() {
    for stack in stacks().await {
        let mut config = stack.config();
        config.rate_limit.builtin = true;
        config.auth.login_max_failures_per_address = 20;
        // The login route's own limit per address would answer first.
        config
            .rate_limit
            .routes
            .insert("auth.login".into(), "off".into());
        let client = client(config.clone()).await;
        let attacker: IpAddr = "203.0.113.66".parse().expect("ip");
        let responses = at_once(40, |i| {
            let client = client.clone();
            async move {
                client
                    .post("/auth/login")
                    .from_ip(attacker)
                    .json(&credentials(&format!("user{i}@example.com"), "Summer2026!"))
                    .send()
                    .await
            }
        })
        .await;
        let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
        assert_eq!(count(&responses, 401), 20, "{}: {statuses:?}", stack.name);
        assert_eq!(count(&responses, 429), 20, "{}: {statuses:?}", stack.name);
        // Someone else, elsewhere, is not affected.
        let elsewhere = client
            .post("/auth/login")
            .from_ip("198.51.100.1".parse().expect("ip"))
            .json(&credentials("user1@example.com", "Summer2026!"))
            .send()
            .await;
        assert_eq!(elsewhere.status(), 401, "{}", stack.name);

        // `rate_limit.builtin = false` lifts the per-address limit only.
        config.rate_limit.builtin = false;
        let client = self::client(config).await;
        let responses = at_once(40, |i| {
            let client = client.clone();
            async move {
                client
                    .post("/auth/login")
                    .from_ip(attacker)
                    .json(&credentials(&format!("user{i}@example.com"), "Summer2026!"))
                    .send()
                    .await
            }
        })
        .await;
        // (a few may find the hashing queue full: 503, never 429)
        assert_eq!(count(&responses, 429), 0, "{}", stack.name);
        assert_eq!(count(&responses, 401) + count(&responses, 503), 40);
    }
}

/// The variables that point `seed_tour` at a stack.
fn process_env(stack: &Stack) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("XCORE_APP_SECRET", common::SECRET.to_owned()),
        ("XCORE_DATABASE_URL", stack.database.url.clone()),
        ("XCORE_CACHE_PREFIX", stack.cache.prefix.clone()),
    ];
    if let Some(url) = &stack.cache.url {
        env.push(("XCORE_CACHE_URL", url.clone()));
    }
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_unknown_e_mails_keeps_the_process_small() {
    for stack in stacks().await {
        // Full-cost argon2 (19 MiB a hash), as in production.
        let server = Server::start(&process_env(&stack)).await;
        let server = std::sync::Arc::new(server);
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let server = std::sync::Arc::clone(&server);
                tokio::spawn(async move {
                    let body = credentials(&format!("nobody{i}@example.com"), "guess");
                    server.request("POST", "/auth/login", Some(&body)).await
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for task in tasks {
            let response = task.await.expect("task").expect("response");
            if matches!(response.status, 429 | 503) {
                assert!(
                    response.header("retry-after").is_some(),
                    "{} {}: no Retry-After",
                    stack.name,
                    response.status
                );
            }
            statuses.push(response.status);
        }
        assert!(
            statuses.iter().all(|s| matches!(s, 401 | 429 | 503)),
            "{}: {statuses:?}",
            stack.name
        );
        let peak = server.peak_rss();
        assert!(
            peak < 256 * 1024 * 1024,
            "{}: peak RSS {} MiB",
            stack.name,
            peak / 1024 / 1024
        );
        eprintln!(
            "{}: 200 unknown-e-mail logins at once: {} × 401, {} × 429, {} × 503, peak RSS {} MiB",
            stack.name,
            statuses.iter().filter(|s| **s == 401).count(),
            statuses.iter().filter(|s| **s == 429).count(),
            statuses.iter().filter(|s| **s == 503).count(),
            peak / 1024 / 1024
        );
    }
}

#[tokio::test]
async fn an_account_registered_before_the_operator_configures_it_is_not_taken_over() {
    for stack in stacks().await {
        let config = stack.config();
        let attacker = client(config.clone()).await;
        let id = register(&attacker, "admin@example.com", "attacker's password").await;

        let mut operator = config.clone();
        operator.admin.email = Some("ADMIN@example.com".into());
        operator.admin.password = Some("the operator's password".into());
        let refused = seed_tour::app(operator)
            .expect("app")
            .otp_sender(Mailbox::default())
            .into_router()
            .await;
        let Err(Error::Config(message)) = refused else {
            panic!("{}: start-up must be refused", stack.name)
        };
        assert!(message.contains("is not its password"), "{message}");

        let token = token(&attacker, "admin@example.com", "attacker's password").await;
        let me: Value = attacker.get("/auth/me").bearer(&token).send().await.json();
        assert_eq!(me["roles"], json!([]), "{}", stack.name);
        assert_eq!(
            attacker
                .get("/admin/roles")
                .bearer(&token)
                .send()
                .await
                .status(),
            403
        );

        // The account's real owner configures its own password: promoted.
        let mut owner = config.clone();
        owner.admin.email = Some("admin@example.com".into());
        owner.admin.password = Some("attacker's password".into());
        let promoted = client(owner).await;
        let me = promoted.state().accounts().user(id).await.expect("user");
        assert_eq!(me.roles, ["admin"], "{}", stack.name);
    }
}

#[tokio::test]
async fn a_nul_character_in_any_text_field_is_a_422_naming_it() {
    for stack in stacks().await {
        let mut config = stack.config();
        config.admin.email = Some("root@example.com".into());
        config.admin.password = Some("root password 123".into());
        let client = client(config).await;
        register(&client, "ada@example.com", "correct horse").await;
        let user = token(&client, "ada@example.com", "correct horse").await;
        let admin = token(&client, "root@example.com", "root password 123").await;
        let nul = "a\u{0}b";
        let cases: Vec<(&str, &str, Option<&str>, Value, &str)> = vec![
            (
                "POST",
                "/auth/register",
                None,
                credentials(nul, "correct horse"),
                "email",
            ),
            (
                "POST",
                "/auth/register",
                None,
                credentials("b@example.com", nul),
                "password",
            ),
            ("POST", "/auth/login", None, credentials(nul, "x"), "email"),
            (
                "POST",
                "/auth/refresh",
                None,
                json!({"refresh_token": nul}),
                "refresh_token",
            ),
            (
                "POST",
                "/auth/login/totp",
                None,
                json!({"mfa_token": nul, "code": "1"}),
                "mfa_token",
            ),
            (
                "POST",
                "/auth/password",
                Some(&user),
                json!({"current_password": nul, "new_password": "another one"}),
                "current_password",
            ),
            (
                "POST",
                "/auth/otp/verify",
                Some(&user),
                json!({"code": nul}),
                "code",
            ),
            (
                "POST",
                "/auth/totp/setup",
                Some(&user),
                json!({"password": nul}),
                "password",
            ),
            (
                "POST",
                "/auth/totp/confirm",
                Some(&user),
                json!({"code": nul}),
                "code",
            ),
            (
                "DELETE",
                "/auth/totp",
                Some(&user),
                json!({"password": "x", "code": nul}),
                "code",
            ),
            (
                "POST",
                "/admin/roles",
                Some(&admin),
                json!({"name": nul}),
                "name",
            ),
            (
                "POST",
                "/admin/permissions",
                Some(&admin),
                json!({"name": "x", "description": nul}),
                "description",
            ),
            ("POST", "/items/", Some(&user), json!({"nom": nul}), "nom"),
            (
                "POST",
                "/catalogue/produits",
                Some(&admin),
                json!({"nom": nul, "prix_centimes": 1}),
                "nom",
            ),
            (
                "POST",
                "/codes/verifier",
                Some(&user),
                json!({"code": nul}),
                "code",
            ),
        ];
        for (method, path, bearer, body, field) in cases {
            let mut request = client
                .request(method.parse().expect("method"), path)
                .json(&body);
            if let Some(token) = bearer {
                request = request.bearer(token);
            }
            let response = request.send().await;
            assert_nul_refused(&response, field, &format!("{} {method} {path}", stack.name));
        }
        let form = client
            .post("/auth/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("username=a%00b&password=x")
            .send()
            .await;
        assert_nul_refused(&form, "username", "form login");
        for (method, path, field) in [
            ("GET", "/admin/users?page=1&per_page=%00", "per_page"),
            ("GET", "/admin/audit?event=%00", "event"),
            ("DELETE", "/admin/roles/a%00b", "path"),
        ] {
            let response = client
                .request(method.parse().expect("method"), path)
                .bearer(&admin)
                .send()
                .await;
            assert_nul_refused(&response, field, path);
        }
        // Nothing was stored.
        let items: Value = client.get("/items/").send().await.json();
        assert!(!items.to_string().contains("\\u0000"), "{items}");
    }
}

fn assert_nul_refused(response: &TestResponse, field: &str, what: &str) {
    assert_eq!(response.status(), 422, "{what}: {}", response.text());
    let body: Value = response.json();
    assert_eq!(body["error"]["code"], "validation_failed", "{what}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&format!("`{field}`")), "{what}: {message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_already_past_its_checks_cannot_outlive_a_revocation() {
    for stack in stacks().await {
        let mut config = stack.config();
        config.auth.hash_concurrency = 1;
        config.auth.hash_wait_ms = 60_000;
        let client = client(config).await;
        register(&client, "ada@example.com", "correct horse").await;
        let token = token(&client, "ada@example.com", "correct horse").await;

        // Keep the one hashing slot busy, so the login below reads the
        // account and then waits for its password check.
        let pool = client.state().accounts().hash_pool().clone();
        let slow = PasswordParams {
            memory_kib: 65_536,
            iterations: 8,
            parallelism: 1,
        };
        let busy = tokio::spawn(async move { pool.hash("occupy", slow).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let racing = {
            let client = client.clone();
            tokio::spawn(async move { login(&client, "ada@example.com", "correct horse").await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Ada, worried, signs out everywhere while that login is in flight.
        let ended = client.post("/auth/logout-all").bearer(&token).send().await;
        assert_eq!(ended.status(), 204);
        assert!(
            !busy.is_finished(),
            "the slow hash must still hold the slot"
        );
        busy.await.expect("task").expect("hash");
        let racing = racing.await.expect("task");
        assert_eq!(
            racing.status(),
            401,
            "{}: a session opened after the revocation: {}",
            stack.name,
            racing.text()
        );

        // The second factor's step is bound the same way.
        let (secret, token) = enable_totp(&client, "bob@example.com").await;
        let challenge: Value = login(&client, "bob@example.com", "correct horse")
            .await
            .json();
        let ended = client.post("/auth/logout-all").bearer(&token).send().await;
        assert_eq!(ended.status(), 204);
        let code = hotp(&secret, now() / 30, 6);
        let late = client
            .post("/auth/login/totp")
            .json(&json!({"mfa_token": challenge["mfa_token"], "code": code}))
            .send()
            .await;
        assert_eq!(late.status(), 401, "{}: {}", stack.name, late.text());
    }
}

/// A user with TOTP on: their secret and a token from before.
async fn enable_totp(client: &TestClient, email: &str) -> (Vec<u8>, String) {
    register(client, email, "correct horse").await;
    let token = token(client, email, "correct horse").await;
    let setup: Value = client
        .post("/auth/totp/setup")
        .bearer(&token)
        .json(&json!({"password": "correct horse"}))
        .send()
        .await
        .json();
    let secret = base32_decode(setup["secret"].as_str().expect("secret"));
    let code = hotp(&secret, now() / 30 - 1, 6);
    let confirmed = client
        .post("/auth/totp/confirm")
        .bearer(&token)
        .json(&json!({"code": code}))
        .send()
        .await;
    assert_eq!(confirmed.status(), 200, "{}", confirmed.text());
    (secret, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn codes_and_passwords_sent_at_once_after_sign_in_are_limited() {
    for stack in stacks().await {
        let mut config = stack.config();
        config.auth.login_max_failures = 5;
        let client = client(config).await;
        let (secret, token) = enable_totp(&client, "ada@example.com").await;
        let right = hotp(&secret, now() / 30, 6);
        let wrong = if right == "000000" {
            "000001"
        } else {
            "000000"
        };

        // Thirty challenges, then thirty guesses at once.
        let mut challenges = Vec::new();
        for _ in 0..30 {
            let challenge: Value = login(&client, "ada@example.com", "correct horse")
                .await
                .json();
            challenges.push(
                challenge["mfa_token"]
                    .as_str()
                    .expect("mfa token")
                    .to_owned(),
            );
        }
        let responses = at_once(30, |i| {
            let client = client.clone();
            let mfa_token = challenges[i].clone();
            async move {
                client
                    .post("/auth/login/totp")
                    .json(&json!({"mfa_token": mfa_token, "code": wrong}))
                    .send()
                    .await
            }
        })
        .await;
        assert!(count(&responses, 401) <= 5, "{}", stack.name);
        assert_eq!(count(&responses, 401) + count(&responses, 429), 30);

        // Wrong current passwords at once: the same limit.
        let other = {
            register(&client, "bob@example.com", "correct horse").await;
            token_of(&client, "bob@example.com").await
        };
        let responses = at_once(30, |_| {
            let client = client.clone();
            let other = other.clone();
            async move {
                client
                    .post("/auth/password")
                    .bearer(&other)
                    .json(&json!({"current_password": "guess", "new_password": "whatever 123"}))
                    .send()
                    .await
            }
        })
        .await;
        assert!(count(&responses, 403) <= 5, "{}", stack.name);
        assert_eq!(count(&responses, 403) + count(&responses, 429), 30);
        // Turning the second factor off takes the password too.
        let no_password = client
            .delete("/auth/totp")
            .bearer(&token)
            .json(&json!({"code": right}))
            .send()
            .await;
        assert_eq!(no_password.status(), 422, "{}", no_password.text());
    }
}

async fn token_of(client: &TestClient, email: &str) -> String {
    token(client, email, "correct horse").await
}

#[tokio::test]
async fn tokens_of_another_deployment_with_the_same_secret_are_refused() {
    let shop = client(common::config()).await;
    let mut other = common::config();
    other.auth.token_audience = "blog".into();
    let blog = client(other).await;
    register(&shop, "ada@example.com", "correct horse").await;
    let token = token(&shop, "ada@example.com", "correct horse").await;
    assert_eq!(
        shop.get("/profil/moi").bearer(&token).send().await.status(),
        200
    );
    let elsewhere = blog.get("/profil/moi").bearer(&token).send().await;
    assert_eq!(elsewhere.status(), 401);
}

#[tokio::test]
async fn the_api_documents_are_off_in_production_unless_turned_on() {
    let production = common::config().with_env(Environment::Production);
    let client = client(production.clone()).await;
    assert_eq!(client.get("/docs").send().await.status(), 404);
    assert_eq!(client.get("/openapi.json").send().await.status(), 404);
    let mut on = production;
    on.openapi.enabled = Some(true);
    on.openapi.docs = Some(true);
    let client = self::client(on).await;
    assert_eq!(client.get("/openapi.json").send().await.status(), 200);
    assert_eq!(client.get("/docs").send().await.status(), 200);
    let hello = client.get("/hello/").send().await;
    assert_eq!(hello.header("x-content-type-options"), Some("nosniff"));
}

#[tokio::test]
async fn the_audit_log_records_who_did_what() {
    for stack in stacks().await {
        let mut config = stack.config();
        config.admin.email = Some("root@example.com".into());
        config.admin.password = Some("root password 123".into());
        let client = client(config).await;
        let ada = register(&client, "ada@example.com", "correct horse").await;
        let admin = token(&client, "root@example.com", "root password 123").await;
        let root: Value = client.get("/auth/me").bearer(&admin).send().await.json();
        let root = root["id"].as_i64().expect("id");
        let from: IpAddr = "198.51.100.20".parse().expect("ip");

        let wrong = client
            .post("/auth/login")
            .from_ip(from)
            .json(&credentials("ada@example.com", "wrong"))
            .send()
            .await;
        assert_eq!(wrong.status(), 401);
        let ada_token = token(&client, "ada@example.com", "correct horse").await;
        let admin_call = |method: &str, path: &str, body: Option<Value>| {
            let mut request = client
                .request(method.parse().expect("method"), path)
                .bearer(&admin)
                .from_ip(from);
            if let Some(body) = body {
                request = request.json(&body);
            }
            request.send()
        };
        assert_eq!(
            admin_call("POST", "/admin/roles", Some(json!({"name": "editor"})))
                .await
                .status(),
            201
        );
        assert_eq!(
            admin_call("POST", "/admin/permissions", Some(json!({"name": "a:b"})))
                .await
                .status(),
            201
        );
        assert_eq!(
            admin_call("PUT", "/admin/roles/editor/permissions/a:b", None)
                .await
                .status(),
            204
        );
        assert_eq!(
            admin_call("PUT", &format!("/admin/users/{ada}/roles/editor"), None)
                .await
                .status(),
            204
        );
        assert_eq!(
            admin_call("DELETE", &format!("/admin/users/{ada}/roles/editor"), None)
                .await
                .status(),
            204
        );
        assert_eq!(
            admin_call("DELETE", "/admin/roles/editor/permissions/a:b", None)
                .await
                .status(),
            204
        );
        assert_eq!(
            admin_call("DELETE", "/admin/permissions/a:b", None)
                .await
                .status(),
            204
        );
        assert_eq!(
            admin_call("DELETE", "/admin/roles/editor", None)
                .await
                .status(),
            204
        );
        let changed = client
            .post("/auth/password")
            .bearer(&ada_token)
            .json(&json!({"current_password": "correct horse", "new_password": "battery staple"}))
            .send()
            .await;
        assert_eq!(changed.status(), 204);
        assert_eq!(
            admin_call("DELETE", &format!("/admin/users/{ada}/totp"), None)
                .await
                .status(),
            204
        );

        let page: Value = admin_call("GET", "/admin/audit?per_page=200", None)
            .await
            .json();
        let events: Vec<(String, Option<i64>, Option<i64>)> = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .rev()
            .map(|e| {
                (
                    e["event"].as_str().unwrap_or_default().to_owned(),
                    e["actor"].as_i64(),
                    e["subject"].as_i64(),
                )
            })
            .collect();
        let expected = [
            ("registered", None, Some(root)),
            ("admin_bootstrapped", None, Some(root)),
            ("registered", None, Some(ada)),
            ("login_succeeded", Some(root), Some(root)),
            ("login_failed", None, Some(ada)),
            ("login_succeeded", Some(ada), Some(ada)),
            ("role_created", Some(root), None),
            ("permission_created", Some(root), None),
            ("permission_granted", Some(root), None),
            ("role_granted", Some(root), Some(ada)),
            ("role_revoked", Some(root), Some(ada)),
            ("permission_revoked", Some(root), None),
            ("permission_deleted", Some(root), None),
            ("role_deleted", Some(root), None),
            ("password_changed", Some(ada), Some(ada)),
            ("totp_reset", Some(root), Some(ada)),
        ];
        let expected: Vec<(String, Option<i64>, Option<i64>)> = expected
            .iter()
            .map(|(e, a, s)| ((*e).to_owned(), *a, *s))
            .collect();
        assert_eq!(events, expected, "{}", stack.name);
        let text = page.to_string();
        for secret in [
            "correct horse",
            "battery staple",
            "root password 123",
            "wrong",
            &admin,
            &ada_token,
        ] {
            assert!(
                !text.contains(secret),
                "{}: the audit log holds `{secret}`",
                stack.name
            );
        }
        let failed = &page["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|e| e["event"] == "login_failed")
            .expect("failure")
            .clone();
        assert_eq!(failed["address"], "198.51.100.20");
        assert_eq!(failed["detail"]["email"], "ada@example.com");

        let ada_only: Value = admin_call("GET", &format!("/admin/audit?user={ada}"), None)
            .await
            .json();
        assert!(
            ada_only["items"]
                .as_array()
                .expect("items")
                .iter()
                .all(|e| e["actor"] == ada || e["subject"] == ada)
        );
        let failures: Value = admin_call("GET", "/admin/audit?event=login_failed", None)
            .await
            .json();
        assert_eq!(failures["total"], 1);
        let refused = client.get("/admin/audit").bearer(&ada_token).send().await;
        assert_eq!(
            refused.status(),
            401,
            "ada's sessions ended with the TOTP reset"
        );
    }
}

/// Every answer that carries a token, a key, a secret or codes says
/// `Cache-Control: no-store` (RFC 6749 §5.1; issue 27, row 12): no shared
/// or browser cache keeps it.
#[tokio::test]
async fn answers_carrying_secrets_are_never_stored() {
    for stack in stacks().await {
        secrets_are_never_stored(stack.config()).await;
    }
}

async fn secrets_are_never_stored(config: Config) {
    let client = client(config).await;
    register(&client, "ada@example.com", "correct horse").await;
    let no_store = |response: &TestResponse, what: &str| {
        assert!(
            response.status().is_success(),
            "{what}: {}",
            response.text()
        );
        assert_eq!(response.header("cache-control"), Some("no-store"), "{what}");
        assert_eq!(response.header("pragma"), Some("no-cache"), "{what}");
    };
    let login = login(&client, "ada@example.com", "correct horse").await;
    no_store(&login, "login");
    let pair: Value = login.json();
    let access = pair["access_token"].as_str().expect("token").to_owned();
    let refresh = pair["refresh_token"].as_str().expect("refresh").to_owned();
    let refreshed = client
        .post("/auth/refresh")
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await;
    no_store(&refreshed, "refresh");
    let key = client
        .post("/auth/api-keys")
        .bearer(&access)
        .json(&json!({"name": "ci", "password": "correct horse"}))
        .send()
        .await;
    no_store(&key, "a new API key");
    let setup = client
        .post("/auth/totp/setup")
        .bearer(&access)
        .json(&json!({"password": "correct horse"}))
        .send()
        .await;
    no_store(&setup, "a TOTP secret");
    let secret = base32_decode(setup.json::<Value>()["secret"].as_str().expect("secret"));
    let confirmed = client
        .post("/auth/totp/confirm")
        .bearer(&access)
        .json(&json!({"code": hotp(&secret, now() / 30 - 1, 6)}))
        .send()
        .await;
    no_store(&confirmed, "recovery codes");
    let replaced = client
        .post("/auth/totp/recovery-codes")
        .bearer(&access)
        .json(&json!({"password": "correct horse", "code": hotp(&secret, now() / 30, 6)}))
        .send()
        .await;
    no_store(&replaced, "new recovery codes");
    let challenge: Value = login_json(&client).await;
    let second = client
        .post("/auth/login/totp")
        .json(&json!({
            "mfa_token": challenge["mfa_token"],
            "code": hotp(&secret, now() / 30 + 1, 6),
        }))
        .send()
        .await;
    no_store(&second, "the second step's tokens");
    // An answer without secrets keeps its ordinary caching.
    let me = client.get("/auth/me").bearer(&access).send().await;
    assert_eq!(me.header("cache-control"), None);
}

async fn login_json(client: &TestClient) -> Value {
    let response = login(client, "ada@example.com", "correct horse").await;
    assert_eq!(response.header("cache-control"), Some("no-store"));
    response.json()
}

/// A new password equal to the current one is refused with the 422 naming
/// `new_password`, and the sessions stay (issue 27, row 14: it was a 204
/// that ended the other sessions for nothing).
#[tokio::test]
async fn a_new_password_must_differ_from_the_current_one() {
    for stack in stacks().await {
        let client = client(stack.config()).await;
        register(&client, "ada@example.com", "correct horse").await;
        let token = token(&client, "ada@example.com", "correct horse").await;
        let other = self::token(&client, "ada@example.com", "correct horse").await;
        let same = client
            .post("/auth/password")
            .bearer(&token)
            .json(&json!({"current_password": "correct horse", "new_password": "correct horse"}))
            .send()
            .await;
        assert_eq!(same.status(), 422, "{}: {}", stack.name, same.text());
        let body: Value = same.json();
        assert_eq!(body["error"]["fields"][0]["path"], "new_password", "{body}");
        assert!(
            body["error"]["fields"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("current password")),
            "{body}"
        );
        assert_eq!(
            client.get("/auth/me").bearer(&other).send().await.status(),
            200,
            "{}: the other session stays",
            stack.name
        );
    }
}

/// Wrong codes are counted per user across codes: a new code per send
/// does not bring back the guesses (issue 27, row 11: every send reset the
/// count, 15 guesses a minute for ever). Past `otp.max_attempts_per_hour`
/// (15 by default) even the right code of a fresh send gets a 429.
#[tokio::test]
async fn a_new_code_does_not_bring_back_the_guesses() {
    for stack in stacks().await {
        let client = client(stack.config()).await;
        let otp = client.state().otp().clone();
        for _ in 0..3 {
            let code = otp.generate(7).await.expect("code");
            let wrong = if code == "000000" { "111111" } else { "000000" };
            for _ in 0..5 {
                assert_eq!(
                    otp.check(7, wrong).await.expect("check"),
                    xcore::otp::OtpCheck::Invalid,
                    "{}",
                    stack.name
                );
            }
        }
        let code = otp.generate(7).await.expect("code");
        let capped = otp.check(7, &code).await;
        assert!(
            matches!(capped, Err(xcore::Error::TooManyRequests { retry_after_secs }) if retry_after_secs > 1),
            "{}: {capped:?}",
            stack.name
        );
        // Another user is not affected.
        let theirs = otp.generate(8).await.expect("code");
        assert_eq!(
            otp.check(8, &theirs).await.expect("check"),
            xcore::otp::OtpCheck::Valid
        );
    }
}

/// An e-mail is a bare `local@domain`: what a mailbox parser would read as
/// a display name and another address is refused at registration (issue
/// 27, row 9: `victim.example.com<attacker@evil.test>` was registered and
/// its verification mail went to the attacker).
#[tokio::test]
async fn an_e_mail_is_a_bare_address_never_a_mailbox() {
    for stack in stacks().await {
        let client = client(stack.config()).await;
        for email in [
            "victim.example.com<attacker@evil.test>",
            "Victim <victim@example.com>",
            "victim@example.com,attacker@evil.test",
            "\"a b\"@example.com",
            "victim@example.com (comment)",
            "victim@[127.0.0.1]",
            "victim@exa;mple.com",
        ] {
            let response = client
                .post("/auth/register")
                .json(&credentials(email, "correct horse"))
                .send()
                .await;
            assert_eq!(
                response.status(),
                422,
                "{}: {email}: {}",
                stack.name,
                response.text()
            );
            assert_eq!(
                common::error_code(&response),
                "validation_failed",
                "{email}"
            );
        }
        for email in ["o'brien+tag@example.com", "ada.lovelace@mail.example.co.uk"] {
            register(&client, email, "correct horse").await;
        }
    }
}

/// A hundred guesses at one user's code sent at once: the hourly cap lets
/// exactly its number through to the code, the rest get the 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_guesses_at_once_take_the_hourly_cap_once() {
    for stack in stacks().await {
        let client = client(stack.config()).await;
        let otp = client.state().otp().clone();
        let code = otp.generate(9).await.expect("code");
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let checks = (0..100).map(|_| {
            let otp = otp.clone();
            tokio::spawn(async move { otp.check(9, wrong).await })
        });
        let mut capped = 0;
        for check in checks {
            match check.await.expect("task") {
                Err(xcore::Error::TooManyRequests { .. }) => capped += 1,
                Ok(_) => {}
                Err(other) => panic!("{}: {other:?}", stack.name),
            }
        }
        assert_eq!(capped, 100 - 15, "{}", stack.name);
    }
}

/// Registers `count` accounts named `{name}{i}@example.com`, the `i`th
/// through `request(i)`: the statuses.
async fn registrations(
    name: &str,
    count: usize,
    request: impl Fn(usize) -> xcore::testing::TestRequest,
) -> Vec<u16> {
    let mut statuses = Vec::with_capacity(count);
    for i in 0..count {
        let response = request(i)
            .json(&credentials(
                &format!("{name}{i}@example.com"),
                "a long passphrase",
            ))
            .send()
            .await;
        statuses.push(response.status().as_u16());
    }
    statuses
}

#[tokio::test]
async fn a_client_behind_the_proxy_cannot_pick_its_address() {
    for stack in stacks().await {
        let mut config = stack.config();
        config.rate_limit.builtin = true;
        // The test client is the proxy: it appends X-Forwarded-For.
        config.http.trusted_proxies = serde_json::from_value(json!("127.0.0.1")).expect("list");
        let client = client(config.clone()).await;
        // The client adds a Forwarded header of its own, a new one each time.
        let statuses = registrations("r", 12, |i| {
            client
                .post("/auth/register")
                .header("x-forwarded-for", "198.51.100.20")
                .header("forwarded", format!("for=203.0.113.{i}"))
        })
        .await;
        let created = statuses.iter().filter(|s| **s == 201).count();
        assert_eq!(created, 5, "{}: {statuses:?}", stack.name);
        assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");

        // Behind a proxy that writes `Forwarded`, X-Forwarded-For is the client's.
        config.http.forwarded_header = xcore::config::ForwardedHeader::Forwarded;
        let client = self::client(config).await;
        let statuses = registrations("s", 12, |i| {
            client
                .post("/auth/register")
                .header("forwarded", "for=198.51.100.21")
                .header("x-forwarded-for", format!("203.0.113.{i}"))
        })
        .await;
        let created = statuses.iter().filter(|s| **s == 201).count();
        assert_eq!(created, 5, "{}: {statuses:?}", stack.name);
    }
}

#[tokio::test]
async fn the_addresses_of_one_ipv6_network_count_as_one() {
    for stack in stacks().await {
        let mut config = stack.config();
        config.rate_limit.builtin = true;
        config.auth.login_max_failures_per_address = 5;
        let client = client(config).await;
        let in_network =
            |i: usize| -> IpAddr { format!("2001:db8:7:9::{:x}", i + 1).parse().expect("ip") };
        let statuses = registrations("r", 12, |i| {
            client.post("/auth/register").from_ip(in_network(i))
        })
        .await;
        let created = statuses.iter().filter(|s| **s == 201).count();
        assert_eq!(created, 5, "{}: {statuses:?}", stack.name);
        // The next /64 is someone else.
        let elsewhere = client
            .post("/auth/register")
            .from_ip("2001:db8:7:a::1".parse().expect("ip"))
            .json(&credentials("elsewhere@example.com", "a long passphrase"))
            .send()
            .await;
        assert_eq!(elsewhere.status(), 201, "{}", stack.name);

        // Password spraying across the network: the per-address login limit.
        let mut statuses = Vec::new();
        for i in 0..8 {
            let response = client
                .post("/auth/login")
                .from_ip(in_network(100 + i))
                .json(&credentials(
                    &format!("r{i}@example.com"),
                    "wrong password!",
                ))
                .send()
                .await;
            statuses.push(response.status().as_u16());
        }
        assert_eq!(
            statuses.iter().filter(|s| **s == 429).count(),
            3,
            "{}: {statuses:?}",
            stack.name
        );
    }
}

#[tokio::test]
async fn wrong_passwords_codes_and_links_leave_a_record() {
    for stack in stacks().await {
        let client = client(stack.config()).await;
        let ada = register(&client, "ada@example.com", "correct horse").await;
        let access = token(&client, "ada@example.com", "correct horse").await;
        let from: IpAddr = "198.51.100.30".parse().expect("ip");
        let call = |path: &str, body: Value| {
            client
                .post(path)
                .bearer(&access)
                .from_ip(from)
                .json(&body)
                .send()
        };
        let wrong = json!({"current_password": "wrong horse", "new_password": "battery staple"});
        assert_eq!(call("/auth/password", wrong).await.status(), 403);
        let wrong = json!({"password": "wrong horse"});
        assert_eq!(call("/auth/totp/setup", wrong).await.status(), 403);
        assert_eq!(call("/auth/otp/send", json!({})).await.status(), 202);
        let wrong = json!({"code": "000000000"});
        assert_eq!(call("/auth/otp/verify", wrong).await.status(), 400);
        let dead = json!({"token": "not-a-token", "new_password": "battery staple"});
        let refused = client
            .post("/auth/password/reset")
            .from_ip(from)
            .json(&dead)
            .send()
            .await;
        assert_eq!(refused.status(), 400);

        let (_, entries) = client
            .state()
            .accounts()
            .audit()
            .page(&xcore::accounts::AuditQuery::page(1, 50))
            .await
            .expect("audit");
        let seen: Vec<(String, Option<i64>, Value)> = entries
            .iter()
            .rev()
            .filter(|e| e.address.as_deref() == Some("198.51.100.30"))
            .map(|e| (e.event.clone(), e.subject, e.detail.clone()))
            .collect();
        let expected = vec![
            (
                "password_check_failed".to_owned(),
                Some(ada),
                json!({"for": "password_change"}),
            ),
            (
                "password_check_failed".to_owned(),
                Some(ada),
                json!({"for": "totp_setup"}),
            ),
            (
                "code_check_failed".to_owned(),
                Some(ada),
                json!({"for": "otp"}),
            ),
            (
                "link_refused".to_owned(),
                None,
                json!({"purpose": "password_reset"}),
            ),
        ];
        assert_eq!(seen, expected, "{}", stack.name);
        let text = format!("{entries:?}");
        assert!(!text.contains("wrong horse") && !text.contains("not-a-token"));
    }
}

/// The keys of the app's cache that match `pattern` (after its prefix).
async fn redis_keys(
    admin: &mut redis::aio::MultiplexedConnection,
    prefix: &str,
    pattern: &str,
) -> Vec<String> {
    redis::cmd("KEYS")
        .arg(format!("{prefix}{pattern}"))
        .query_async(admin)
        .await
        .expect("KEYS")
}

#[tokio::test]
async fn a_failover_that_brings_an_old_version_back_revives_no_token() {
    let Some(database) = services::databases()
        .await
        .into_iter()
        .find(|d| d.name == "postgres")
    else {
        return;
    };
    // With the in-process tier in front of Redis, and without it.
    for local_max_bytes in [16 << 20, 0] {
        let Some(mut cache) = services::caches().into_iter().find(|c| c.name == "redis") else {
            return;
        };
        let stack = format!("local tier of {local_max_bytes} bytes");
        let mut redis_user = services::OwnRedisUser::create(&mut cache).await;
        let mut config = cache
            .apply(common::config())
            .with_database_url(database.url.as_str());
        config.cache.local_max_bytes = local_max_bytes;
        let client = client(config.clone()).await;
        let other = self::client(config).await;
        let email = format!("ada-{local_max_bytes}@example.com");
        let ada = register(&client, &email, "correct horse").await;
        let stolen = token(&client, &email, "correct horse").await;
        // Asked of both instances: 200 if either lets the token in, 401
        // if both refuse it, else what went wrong.
        let me = |token: &str| {
            let (client, other, token) = (client.clone(), other.clone(), token.to_owned());
            async move {
                let here = client.get("/auth/me").bearer(&token).send().await.status();
                let there = other.get("/auth/me").bearer(&token).send().await.status();
                match (here.as_u16(), there.as_u16()) {
                    (200, _) | (_, 200) if here != there => 200,
                    (a, b) if a == b => a,
                    (a, b) => a.max(b),
                }
            }
        };
        assert_eq!(me(&stolen).await, 200, "{stack}");
        let key = redis_keys(&mut redis_user.admin, &cache.prefix, &format!("*ver:{ada}")).await;
        let [key] = key.as_slice() else {
            panic!("{stack}: one version key, not {key:?}");
        };
        let before: String = redis::cmd("GET")
            .arg(key)
            .query_async(&mut redis_user.admin)
            .await
            .expect("GET");

        // Logged out everywhere: the stolen token is refused.
        let out = client.post("/auth/logout-all").bearer(&stolen).send().await;
        assert_eq!(out.status(), 204, "{stack}");
        assert_eq!(me(&stolen).await, 401, "{stack}");

        // A failover to a replica that missed the last write: the app's
        // connections drop, and the server it reaches holds the old value.
        assert!(redis_user.kill_connections().await >= 1, "{stack}");
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg(&before)
            .arg("EX")
            .arg(60)
            .query_async(&mut redis_user.admin)
            .await
            .expect("SET");
        let mut answers = Vec::new();
        for _ in 0..40 {
            let status = me(&stolen).await;
            answers.push(status);
            if status == 401 && answers.len() >= 5 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            !answers.contains(&200) && answers.last() == Some(&401),
            "{stack}: the stolen token after the failover: {answers:?}"
        );
        // A real session still works (checked against the database).
        let fresh = token(&client, &email, "correct horse").await;
        for instance in [&client, &other] {
            let answer = instance.get("/auth/me").bearer(&fresh).send().await;
            assert_eq!(answer.status(), 200, "{stack}");
        }
        assert_eq!(me(&stolen).await, 401, "{stack}");
        redis_user.remove().await;
    }
}
