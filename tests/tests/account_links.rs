//! Password reset and address verification through a real SMTP server
//! (issue 14), on SQLite with the in-process cache and on PostgreSQL with
//! Redis.

use serde_json::{Value, json};
use xcore::config::Config;
use xcore::prelude::*;
use xcore::testing::{TestClient, TestResponse};

use crate::common::services::{self, TestCache, TestDatabase};
use crate::common::smtp::{SmtpServer, link_token, text_of};
use crate::common::{self};

const PUBLIC_URL: &str = "https://app.example";

/// The stacks: SQLite with the in-process cache, PostgreSQL with Redis.
async fn stacks() -> Vec<(TestDatabase, TestCache)> {
    services::databases()
        .await
        .into_iter()
        .zip(services::caches())
        .collect()
}

fn config(smtp: &SmtpServer, database: &TestDatabase, cache: &TestCache) -> Config {
    let mut config = cache.apply(common::config().with_database_url(database.url.as_str()));
    config.mail.url = Some(smtp.url().into());
    config.mail.from = Some("Accounts <no-reply@app.example>".into());
    config.auth.public_url = Some(format!("{PUBLIC_URL}/"));
    config
}

async fn client(config: Config) -> TestClient {
    TestClient::new(App::new(config).expect("app"))
        .await
        .expect("app")
}

async fn post(client: &TestClient, path: &str, body: Value) -> TestResponse {
    client.post(path).json(&body).send().await
}

async fn login(client: &TestClient, email: &str, password: &str) -> TestResponse {
    post(
        client,
        "/auth/login",
        json!({"email": email, "password": password}),
    )
    .await
}

/// The tokens of the e-mails to `to` holding a link to `path`, once
/// `count` of them have arrived (in no particular order: the Maildir does
/// not keep one).
async fn tokens_sent(smtp: &SmtpServer, to: &str, path: &str, count: usize) -> Vec<String> {
    let matching = || {
        smtp.messages()
            .iter()
            .filter(|m| m.contains(&format!("To: {to}")))
            .map(|m| text_of(m))
            .filter(|text| text.contains(&format!("{PUBLIC_URL}{path}?token=")))
            .collect::<Vec<_>>()
    };
    smtp.wait_for(|_| matching().len() >= count).await;
    let texts = matching();
    let tokens: Vec<String> = texts
        .iter()
        .filter_map(|text| link_token(text, path))
        .collect();
    assert_eq!(tokens.len(), texts.len(), "{texts:?}");
    tokens
}

/// The token of the one e-mail to `to` holding a link to `path`.
async fn token_sent(smtp: &SmtpServer, to: &str, path: &str) -> String {
    tokens_sent(smtp, to, path, 1).await.remove(0)
}

#[tokio::test]
async fn a_forgotten_password_is_reset_through_the_e_mailed_link_once() {
    let Some(smtp) = SmtpServer::start().await else {
        return;
    };
    for (database, cache) in stacks().await {
        let stack = format!("{}+{}", database.name, cache.name);
        let client = client(config(&smtp, &database, &cache)).await;
        let email = format!("ada-{}@example.com", database.name);
        let registered = post(
            &client,
            "/auth/register",
            json!({"email": email, "password": "correct horse"}),
        )
        .await;
        assert_eq!(registered.status(), 201, "{stack}");
        let old: Value = login(&client, &email, "correct horse").await.json();
        let old_access = old["access_token"].as_str().expect("access").to_owned();
        let old_refresh = old["refresh_token"].as_str().expect("refresh").to_owned();

        // An unknown address: the same 202, and no message.
        let unknown = format!("nobody-{}@example.com", database.name);
        let forgot = post(&client, "/auth/password/forgot", json!({"email": unknown})).await;
        assert_eq!(forgot.status(), 202, "{stack}: {}", forgot.text());
        let forgot = post(
            &client,
            "/auth/password/forgot",
            json!({"email": email.to_uppercase()}),
        )
        .await;
        assert_eq!(forgot.status(), 202, "{stack}: {}", forgot.text());
        assert_eq!(forgot.text(), "", "{stack}: a 202 says nothing");
        let token = token_sent(&smtp, &email, "/reset-password").await;

        let reset = post(
            &client,
            "/auth/password/reset",
            json!({"token": token, "new_password": "battery staple"}),
        )
        .await;
        assert_eq!(reset.status(), 204, "{stack}: {}", reset.text());
        assert_eq!(
            login(&client, &email, "battery staple").await.status(),
            200,
            "{stack}: the new password logs in"
        );
        assert_eq!(
            login(&client, &email, "correct horse").await.status(),
            401,
            "{stack}: the old one does not"
        );
        assert_eq!(
            client
                .get("/auth/me")
                .bearer(&old_access)
                .send()
                .await
                .status(),
            401,
            "{stack}: an old session's access token is refused"
        );
        assert_eq!(
            post(
                &client,
                "/auth/refresh",
                json!({"refresh_token": old_refresh})
            )
            .await
            .status(),
            401,
            "{stack}: an old session's refresh token is refused"
        );
        let again = post(
            &client,
            "/auth/password/reset",
            json!({"token": token, "new_password": "a third one"}),
        )
        .await;
        assert_eq!(again.status(), 400, "{stack}: the token works once");
        assert_eq!(common::error_code(&again), "bad_request");
        assert_eq!(
            login(&client, &email, "battery staple").await.status(),
            200,
            "{stack}: the refused second use changed nothing"
        );

        // Nothing went to the unknown address; the audit log has the reset.
        assert!(
            !smtp
                .messages()
                .iter()
                .any(|m| m.contains(&format!("To: {unknown}"))),
            "{stack}: no message for an unknown e-mail"
        );
        let events: Vec<(String,)> =
            xcore::sqlx::query_as("SELECT event FROM xcore_audit ORDER BY id")
                .fetch_all(client.db().pool())
                .await
                .expect("audit");
        let events: Vec<&str> = events.iter().map(|(e,)| e.as_str()).collect();
        assert!(
            events.contains(&"password_reset_requested") && events.contains(&"password_reset"),
            "{stack}: {events:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_token_sent_many_times_at_once_resets_once() {
    let Some(smtp) = SmtpServer::start().await else {
        return;
    };
    for (database, cache) in stacks().await {
        let stack = format!("{}+{}", database.name, cache.name);
        let mut config = config(&smtp, &database, &cache);
        config.rate_limit.builtin = false;
        let client = client(config).await;
        let email = format!("grace-{}@example.com", database.name);
        post(
            &client,
            "/auth/register",
            json!({"email": email, "password": "correct horse"}),
        )
        .await;
        post(&client, "/auth/password/forgot", json!({"email": email})).await;
        let token = token_sent(&smtp, &email, "/reset-password").await;
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let client = client.clone();
                let token = token.clone();
                tokio::spawn(async move {
                    let body = json!({"token": token, "new_password": format!("new password {i}")});
                    post(&client, "/auth/password/reset", body).await
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for task in tasks {
            statuses.push(task.await.expect("task").status().as_u16());
        }
        let won = statuses.iter().filter(|s| **s == 204).count();
        assert_eq!(won, 1, "{stack}: {statuses:?}");
        assert!(
            statuses.iter().all(|s| *s == 204 || *s == 400 || *s == 503),
            "{stack}: {statuses:?}"
        );
    }
}

#[tokio::test]
async fn a_password_change_kills_the_reset_links_sent_before_it() {
    let Some(smtp) = SmtpServer::start().await else {
        return;
    };
    let (database, cache) = stacks().await.remove(0);
    let client = client(config(&smtp, &database, &cache)).await;
    let email = "linus@example.com";
    post(
        &client,
        "/auth/register",
        json!({"email": email, "password": "correct horse"}),
    )
    .await;
    post(&client, "/auth/password/forgot", json!({"email": email})).await;
    let token = token_sent(&smtp, email, "/reset-password").await;
    let access: Value = login(&client, email, "correct horse").await.json();
    let changed = client
        .post("/auth/password")
        .bearer(access["access_token"].as_str().expect("token"))
        .json(&json!({"current_password": "correct horse", "new_password": "battery staple"}))
        .send()
        .await;
    assert_eq!(changed.status(), 204, "{}", changed.text());
    let reset = post(
        &client,
        "/auth/password/reset",
        json!({"token": token, "new_password": "a third one"}),
    )
    .await;
    assert_eq!(reset.status(), 400, "{}", reset.text());
}

#[tokio::test]
async fn the_verification_link_verifies_and_unverified_logins_can_be_refused() {
    let Some(smtp) = SmtpServer::start().await else {
        return;
    };
    for (database, cache) in stacks().await {
        let stack = format!("{}+{}", database.name, cache.name);
        let mut config = config(&smtp, &database, &cache);
        config.auth.require_verified_email = true;
        let client = client(config).await;
        let email = format!("hedy-{}@example.com", database.name);
        let registered = post(
            &client,
            "/auth/register",
            json!({"email": email, "password": "correct horse"}),
        )
        .await;
        assert_eq!(registered.status(), 201, "{stack}: {}", registered.text());
        let first = token_sent(&smtp, &email, "/verify-email").await;

        let refused = login(&client, &email, "correct horse").await;
        assert_eq!(refused.status(), 403, "{stack}: {}", refused.text());
        assert!(
            refused.text().contains("not verified"),
            "{stack}: {}",
            refused.text()
        );
        // A wrong password is still a 401: the 403 is for whoever knows it.
        assert_eq!(login(&client, &email, "wrong horse").await.status(), 401);
        // The refusal sent a fresh link, which replaced the first.
        let second = tokens_sent(&smtp, &email, "/verify-email", 2)
            .await
            .into_iter()
            .find(|token| *token != first)
            .expect("a second, different link");
        assert_eq!(
            post(&client, "/auth/email/verify", json!({"token": first}))
                .await
                .status(),
            400,
            "{stack}: a replaced link is dead"
        );
        let verified = post(&client, "/auth/email/verify", json!({"token": second})).await;
        assert_eq!(verified.status(), 204, "{stack}: {}", verified.text());
        assert_eq!(
            post(&client, "/auth/email/verify", json!({"token": second}))
                .await
                .status(),
            400,
            "{stack}: once"
        );

        let pair = login(&client, &email, "correct horse").await;
        assert_eq!(pair.status(), 200, "{stack}: {}", pair.text());
        let token = pair.json::<Value>()["access_token"]
            .as_str()
            .expect("token")
            .to_owned();
        let me: Value = client.get("/auth/me").bearer(&token).send().await.json();
        assert_eq!(me["email_verified"], true, "{stack}: {me}");
        let resend = client
            .post("/auth/email/verify/send")
            .bearer(&token)
            .send()
            .await;
        assert_eq!(resend.status(), 409, "{stack}: {}", resend.text());
    }
}

/// The one field error of a 422: (path, code).
fn field_error(response: &TestResponse) -> (String, String) {
    assert_eq!(response.status(), 422, "{}", response.text());
    let body: Value = response.json();
    let field = &body["error"]["fields"][0];
    (
        field["path"].as_str().unwrap_or_default().to_owned(),
        field["code"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn common_passwords_and_the_accounts_e_mail_are_refused_everywhere() {
    let Some(smtp) = SmtpServer::start().await else {
        return;
    };
    for (database, cache) in stacks().await {
        let stack = format!("{}+{}", database.name, cache.name);
        let client = client(config(&smtp, &database, &cache)).await;
        let email = format!("grace-{}@example.com", database.name);
        let upper = email.to_uppercase();
        let local = email.split('@').next().expect("local").to_owned();
        let weak = [
            "password",
            "12345678",
            "        ",
            "Password123!",
            "qwertyuiop",
            email.as_str(),
            upper.as_str(),
        ];
        for password in weak {
            let refused = post(
                &client,
                "/auth/register",
                json!({"email": email, "password": password}),
            )
            .await;
            let (path, code) = field_error(&refused);
            assert_eq!((path.as_str(), code.as_str()), ("password", "guessable"));
            // Never echoed (the words of the message itself aside).
            let message = refused.text();
            if password.len() > 8 {
                assert!(!message.contains(password), "{stack}: {message}");
            }
        }
        let with_local = local.to_uppercase().replace('-', " ");
        let refused = post(
            &client,
            "/auth/register",
            json!({"email": email, "password": with_local}),
        )
        .await;
        assert_eq!(field_error(&refused).1, "guessable", "{stack}");
        let registered = post(
            &client,
            "/auth/register",
            json!({"email": email, "password": "correct horse"}),
        )
        .await;
        assert_eq!(registered.status(), 201, "{stack}: {}", registered.text());

        // A change: the same rules.
        let access: Value = login(&client, &email, "correct horse").await.json();
        let access = access["access_token"].as_str().expect("token").to_owned();
        for password in ["letmein123", email.as_str()] {
            let changed = client
                .post("/auth/password")
                .bearer(&access)
                .json(&json!({"current_password": "correct horse", "new_password": password}))
                .send()
                .await;
            let (path, code) = field_error(&changed);
            assert_eq!(
                (path.as_str(), code.as_str()),
                ("new_password", "guessable")
            );
        }

        // A reset: refused, and the link still works for a good password.
        post(&client, "/auth/password/forgot", json!({"email": email})).await;
        let token = token_sent(&smtp, &email, "/reset-password").await;
        for password in ["iloveyou!", email.as_str()] {
            let reset = post(
                &client,
                "/auth/password/reset",
                json!({"token": token, "new_password": password}),
            )
            .await;
            let (path, code) = field_error(&reset);
            assert_eq!(
                (path.as_str(), code.as_str()),
                ("new_password", "guessable")
            );
        }
        let reset = post(
            &client,
            "/auth/password/reset",
            json!({"token": token, "new_password": "analytical engine"}),
        )
        .await;
        assert_eq!(reset.status(), 204, "{stack}: {}", reset.text());
        assert_eq!(
            login(&client, &email, "analytical engine").await.status(),
            200
        );
    }
}

/// A full API key of `email` (signed in with `password`), and the token.
async fn key_of(client: &TestClient, email: &str, password: &str) -> (String, String) {
    let pair: Value = login(client, email, password).await.json();
    let token = pair["access_token"].as_str().expect("token").to_owned();
    let created: Value = client
        .post("/auth/api-keys")
        .bearer(&token)
        .json(&json!({"name": "program", "password": password}))
        .send()
        .await
        .json();
    (created["key"].as_str().expect("key").to_owned(), token)
}

async fn key_works(client: &TestClient, key: &str) -> bool {
    client
        .get("/auth/me")
        .header("x-api-key", key)
        .send()
        .await
        .status()
        == 200
}

#[tokio::test]
async fn keys_end_with_a_reset_a_second_factor_reset_and_by_default_with_every_session() {
    let Some(smtp) = SmtpServer::start().await else {
        return;
    };
    for (database, cache) in stacks().await {
        let stack = format!("{}+{}", database.name, cache.name);
        let client = client(config(&smtp, &database, &cache)).await;
        let email = format!("keys-{}@example.com", database.name);
        let registered = post(
            &client,
            "/auth/register",
            json!({"email": email, "password": "correct horse"}),
        )
        .await;
        let id = registered.json::<Value>()["id"].as_i64().expect("id");

        // Logging out everywhere.
        let (key, token) = key_of(&client, &email, "correct horse").await;
        assert!(key_works(&client, &key).await, "{stack}");
        let out = client.post("/auth/logout-all").bearer(&token).send().await;
        assert_eq!(out.status(), 204, "{stack}");
        assert!(!key_works(&client, &key).await, "{stack}: logout-all");

        // A password change.
        let (key, token) = key_of(&client, &email, "correct horse").await;
        let changed = client
            .post("/auth/password")
            .bearer(&token)
            .json(&json!({"current_password": "correct horse", "new_password": "battery staple"}))
            .send()
            .await;
        assert_eq!(changed.status(), 204, "{stack}: {}", changed.text());
        assert!(!key_works(&client, &key).await, "{stack}: password change");

        // A reset by the e-mailed link.
        let (key, _) = key_of(&client, &email, "battery staple").await;
        post(&client, "/auth/password/forgot", json!({"email": email})).await;
        let reset_token = token_sent(&smtp, &email, "/reset-password").await;
        let reset = post(
            &client,
            "/auth/password/reset",
            json!({"token": reset_token, "new_password": "analytical engine"}),
        )
        .await;
        assert_eq!(reset.status(), 204, "{stack}: {}", reset.text());
        assert!(!key_works(&client, &key).await, "{stack}: reset");

        // An administrator's second-factor reset.
        let (key, _) = key_of(&client, &email, "analytical engine").await;
        client
            .state()
            .accounts()
            .totp_reset(id)
            .await
            .expect("reset");
        assert!(
            !key_works(&client, &key).await,
            "{stack}: second-factor reset"
        );

        // Configured off, logging out everywhere leaves keys to programs.
        let mut kept = config(&smtp, &database, &cache);
        kept.auth.revoke_api_keys_with_sessions = false;
        let client = self::client(kept).await;
        let (key, token) = key_of(&client, &email, "analytical engine").await;
        client.post("/auth/logout-all").bearer(&token).send().await;
        assert!(key_works(&client, &key).await, "{stack}: kept");
    }
}
