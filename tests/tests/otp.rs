//! One-time codes and TOTP: RFC 6238 vectors, an independent check of the
//! setup URI, expiry, single use, attempt limit, replay refusal, the MFA
//! login, and a code made on one instance verified on another through Redis.

use crate::common;

use common::Mailbox;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use xcore::config::{Config, Environment};
use xcore::prelude::*;
use xcore::testing::TestClient;

fn config() -> Config {
    let mut config = common::config();
    config.auth.login_max_failures = 3;
    config
}

async fn app_with(config: Config, mailbox: &Mailbox) -> TestClient {
    TestClient::new(App::new(config).expect("app").otp_sender(mailbox.clone()))
        .await
        .expect("app")
}

async fn signed_up(client: &TestClient, email: &str) -> String {
    let body = json!({"email": email, "password": "correct horse"});
    assert_eq!(
        client
            .post("/auth/register")
            .json(&body)
            .send()
            .await
            .status(),
        201
    );
    let pair: Value = client.post("/auth/login").json(&body).send().await.json();
    pair["access_token"].as_str().expect("token").to_owned()
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[test]
fn totp_codes_match_the_rfc_6238_vectors() {
    // RFC 6238 appendix B, SHA-1 rows: 8-digit values; xcore uses 6 digits,
    // which are the last six (the same truncation, modulo 10^6).
    let secret = b"12345678901234567890";
    for (time, expected) in [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ] {
        let code = xcore::security::totp_code(secret, time).expect("code");
        assert_eq!(code, &expected[2..], "T = {time}");
    }
}

/// RFC 4648 base32 (no padding), written here to stay independent.
pub(crate) fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits = 0u64;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.trim_end_matches('=').bytes() {
        let value = ALPHABET
            .iter()
            .position(|&a| a == c.to_ascii_uppercase())
            .expect("base32") as u64;
        bits = (bits << 5) | value;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

/// RFC 4226 HOTP over HMAC-SHA1 with dynamic truncation, independent of xcore.
pub(crate) fn hotp(secret: &[u8], counter: u64, digits: u32) -> String {
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret).expect("key");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    format!(
        "{:0width$}",
        binary % 10u32.pow(digits),
        width = digits as usize
    )
}

fn query_param(uri: &str, name: &str) -> Option<String> {
    let query = uri.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| value.to_owned())
    })
}

#[tokio::test]
async fn totp_setup_gives_a_uri_an_independent_implementation_accepts() {
    let mailbox = Mailbox::default();
    let client = app_with(config(), &mailbox).await;
    let token = signed_up(&client, "ada@example.com").await;
    let setup: Value = client
        .post("/auth/totp/setup")
        .bearer(&token)
        .json(&json!({"password": "correct horse"}))
        .send()
        .await
        .json();
    let uri = setup["otpauth_uri"].as_str().expect("uri");
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(
        setup["qr_png_base64"]
            .as_str()
            .is_some_and(|png| png.len() > 100)
    );
    assert_eq!(query_param(uri, "digits").as_deref().unwrap_or("6"), "6");
    assert_eq!(query_param(uri, "period").as_deref().unwrap_or("30"), "30");
    let secret = base32_decode(&query_param(uri, "secret").expect("secret"));
    assert_eq!(
        base32_decode(setup["secret"].as_str().expect("secret")),
        secret
    );

    // The stored secret is encrypted: neither form appears in the database.
    let (stored,): (String,) = xcore::sqlx::query_as("SELECT secret FROM xcore_totp")
        .fetch_one(client.db().pool())
        .await
        .expect("row");
    assert!(!stored.contains(setup["secret"].as_str().expect("secret")));
    assert!(
        !stored.contains(
            &secret
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )
    );

    let code = hotp(&secret, now() / 30, 6);
    let confirmed = client
        .post("/auth/totp/confirm")
        .bearer(&token)
        .json(&json!({"code": code}))
        .send()
        .await;
    assert_eq!(confirmed.status(), 200, "{}", confirmed.text());
    let codes: Value = confirmed.json();
    assert_eq!(codes["recovery_codes"].as_array().map(Vec::len), Some(10));
    let me: Value = client.get("/auth/me").bearer(&token).send().await.json();
    assert_eq!(me["totp_enabled"], true);
    assert_eq!(me["recovery_codes_left"], 10);
    let again = client
        .post("/auth/totp/setup")
        .bearer(&token)
        .json(&json!({"password": "correct horse"}))
        .send()
        .await;
    assert_eq!(again.status(), 409, "the secret is never handed out again");
}

async fn totp_user(client: &TestClient) -> (String, Vec<u8>) {
    let token = signed_up(client, "ada@example.com").await;
    let setup: Value = client
        .post("/auth/totp/setup")
        .bearer(&token)
        .json(&json!({"password": "correct horse"}))
        .send()
        .await
        .json();
    let secret = base32_decode(setup["secret"].as_str().expect("secret"));
    // Confirm with the previous step's code (skew of one step is accepted),
    // so the current step stays free for the login below.
    let code = hotp(&secret, now() / 30 - 1, 6);
    let confirmed = client
        .post("/auth/totp/confirm")
        .bearer(&token)
        .json(&json!({"code": code}))
        .send()
        .await;
    assert_eq!(confirmed.status(), 200);
    (token, secret)
}

/// The second step of a login with `factor` (`{"code": …}` or
/// `{"recovery_code": …}`): its status.
async fn second_step(client: &TestClient, factor: Value) -> u16 {
    let credentials = json!({"email": "ada@example.com", "password": "correct horse"});
    let first: Value = client
        .post("/auth/login")
        .json(&credentials)
        .send()
        .await
        .json();
    let mut body = factor;
    body["mfa_token"] = first["mfa_token"].clone();
    client
        .post("/auth/login/totp")
        .json(&body)
        .send()
        .await
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_recovery_code_sent_many_times_at_once_logs_in_once() {
    let stacks = common::services::databases()
        .await
        .into_iter()
        .zip(common::services::caches());
    for (database, cache) in stacks {
        let stack = format!("{}+{}", database.name, cache.name);
        let mut config = cache.apply(config().with_database_url(database.url.as_str()));
        config.rate_limit.builtin = false;
        // Room for every attempt: the race is on the code, not the throttle.
        config.auth.login_max_failures = 100;
        let mailbox = Mailbox::default();
        let client = app_with(config, &mailbox).await;
        let token = signed_up(&client, "ada@example.com").await;
        let setup: Value = client
            .post("/auth/totp/setup")
            .bearer(&token)
            .json(&json!({"password": "correct horse"}))
            .send()
            .await
            .json();
        let secret = base32_decode(setup["secret"].as_str().expect("secret"));
        let confirmed: Value = client
            .post("/auth/totp/confirm")
            .bearer(&token)
            .json(&json!({"code": hotp(&secret, now() / 30 - 1, 6)}))
            .send()
            .await
            .json();
        let code = confirmed["recovery_codes"][0]
            .as_str()
            .expect("code")
            .to_owned();
        let credentials = json!({"email": "ada@example.com", "password": "correct horse"});
        let mut challenges = Vec::new();
        for _ in 0..20 {
            let first: Value = client
                .post("/auth/login")
                .json(&credentials)
                .send()
                .await
                .json();
            challenges.push(first["mfa_token"].clone());
        }
        let tasks: Vec<_> = challenges
            .into_iter()
            .map(|mfa_token| {
                let client = client.clone();
                let body = json!({"mfa_token": mfa_token, "recovery_code": code});
                tokio::spawn(async move {
                    client
                        .post("/auth/login/totp")
                        .json(&body)
                        .send()
                        .await
                        .status()
                        .as_u16()
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for task in tasks {
            statuses.push(task.await.expect("task"));
        }
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{stack}: {statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 401),
            "{stack}: {statuses:?}"
        );
        let me: Value = client.get("/auth/me").bearer(&token).send().await.json();
        assert_eq!(me["recovery_codes_left"], 9, "{stack}: {me}");
    }
}

#[tokio::test]
async fn recovery_codes_log_in_once_each_until_none_is_left() {
    let stacks = common::services::databases()
        .await
        .into_iter()
        .zip(common::services::caches());
    for (database, cache) in stacks {
        let stack = format!("{}+{}", database.name, cache.name);
        let mut config = cache.apply(config().with_database_url(database.url.as_str()));
        config.rate_limit.builtin = false;
        let mailbox = Mailbox::default();
        let client = app_with(config, &mailbox).await;
        let token = signed_up(&client, "ada@example.com").await;
        let setup: Value = client
            .post("/auth/totp/setup")
            .bearer(&token)
            .json(&json!({"password": "correct horse"}))
            .send()
            .await
            .json();
        let secret = base32_decode(setup["secret"].as_str().expect("secret"));
        let confirmed: Value = client
            .post("/auth/totp/confirm")
            .bearer(&token)
            .json(&json!({"code": hotp(&secret, now() / 30 - 1, 6)}))
            .send()
            .await
            .json();
        let codes: Vec<String> = confirmed["recovery_codes"]
            .as_array()
            .expect("codes")
            .iter()
            .map(|c| c.as_str().expect("code").to_owned())
            .collect();
        assert_eq!(codes.len(), 10, "{stack}");

        // Typed as a person would: upper case, no dash.
        let typed = codes[0].to_uppercase().replace('-', "");
        assert_eq!(
            second_step(&client, json!({"recovery_code": typed})).await,
            200,
            "{stack}"
        );
        assert_eq!(
            second_step(&client, json!({"recovery_code": codes[0]})).await,
            401,
            "{stack}: a recovery code works once"
        );
        assert_eq!(
            second_step(&client, json!({"recovery_code": "aaaaa-aaaaa"})).await,
            401,
            "{stack}: an invented one does not"
        );
        for code in &codes[1..] {
            assert_eq!(
                second_step(&client, json!({"recovery_code": code})).await,
                200,
                "{stack}"
            );
        }
        let pair_status = second_step(&client, json!({"recovery_code": codes[9]})).await;
        assert_eq!(pair_status, 401, "{stack}: none is left");
        let me: Value = client.get("/auth/me").bearer(&token).send().await.json();
        assert_eq!(me["recovery_codes_left"], 0, "{stack}: {me}");
        assert_eq!(
            second_step(
                &client,
                json!({"code": "000000", "recovery_code": codes[1]})
            )
            .await,
            422,
            "{stack}: one factor at a time"
        );

        // New codes, given the password and a current code.
        let renewed = client
            .post("/auth/totp/recovery-codes")
            .bearer(&token)
            .json(&json!({"password": "correct horse", "code": hotp(&secret, now() / 30, 6)}))
            .send()
            .await;
        assert_eq!(renewed.status(), 200, "{stack}: {}", renewed.text());
        let renewed: Value = renewed.json();
        let fresh = renewed["recovery_codes"][0]
            .as_str()
            .expect("code")
            .to_owned();
        assert_eq!(
            second_step(&client, json!({"recovery_code": fresh})).await,
            200,
            "{stack}"
        );
        let used: Vec<(String,)> = xcore::sqlx::query_as(
            "SELECT event FROM xcore_audit WHERE event LIKE 'recovery_code%' ORDER BY id",
        )
        .fetch_all(client.db().pool())
        .await
        .expect("audit");
        assert_eq!(used.len(), 12, "{stack}: ten uses, a renewal, a use");
    }
}

#[tokio::test]
async fn totp_login_takes_a_second_step_and_refuses_replays() {
    let mailbox = Mailbox::default();
    let client = app_with(config(), &mailbox).await;
    let (_, secret) = totp_user(&client).await;
    let credentials = json!({"email": "ada@example.com", "password": "correct horse"});

    let first: Value = client
        .post("/auth/login")
        .json(&credentials)
        .send()
        .await
        .json();
    assert_eq!(first["mfa_required"], true);
    assert!(
        first.get("access_token").is_none(),
        "no tokens before the second factor"
    );
    let mfa_token = first["mfa_token"].as_str().expect("mfa token").to_owned();
    let code = hotp(&secret, now() / 30, 6);
    let done = client
        .post("/auth/login/totp")
        .json(&json!({"mfa_token": mfa_token, "code": code}))
        .send()
        .await;
    assert_eq!(done.status(), 200, "{}", done.text());
    let pair: Value = done.json();
    assert!(pair["access_token"].as_str().is_some());

    // The mfa token is single use.
    let reused = client
        .post("/auth/login/totp")
        .json(&json!({"mfa_token": mfa_token, "code": code}))
        .send()
        .await;
    assert_eq!(reused.status(), 401);

    // The same code on a new login: replay, refused.
    let second: Value = client
        .post("/auth/login")
        .json(&credentials)
        .send()
        .await
        .json();
    let replay = client
        .post("/auth/login/totp")
        .json(&json!({"mfa_token": second["mfa_token"], "code": code}))
        .send()
        .await;
    assert_eq!(replay.status(), 401);
}

#[tokio::test]
async fn wrong_totp_codes_count_towards_the_login_throttle() {
    let mailbox = Mailbox::default();
    let client = app_with(config(), &mailbox).await;
    let (_, secret) = totp_user(&client).await;
    let credentials = json!({"email": "ada@example.com", "password": "correct horse"});
    let right = hotp(&secret, now() / 30, 6);
    let wrong = if right == "000000" {
        "000001"
    } else {
        "000000"
    };
    for _ in 0..3 {
        let challenge: Value = client
            .post("/auth/login")
            .json(&credentials)
            .send()
            .await
            .json();
        let response = client
            .post("/auth/login/totp")
            .json(&json!({"mfa_token": challenge["mfa_token"], "code": wrong}))
            .send()
            .await;
        assert_eq!(response.status(), 401);
    }
    assert_eq!(
        client
            .post("/auth/login")
            .json(&credentials)
            .send()
            .await
            .status(),
        429
    );
}

#[tokio::test]
async fn totp_can_be_turned_off_with_a_code() {
    let mailbox = Mailbox::default();
    let client = app_with(config(), &mailbox).await;
    let (token, secret) = totp_user(&client).await;
    let wrong = client
        .delete("/auth/totp")
        .bearer(&token)
        .json(&json!({"password": "correct horse", "code": "12345"}))
        .send()
        .await;
    assert_eq!(wrong.status(), 400);
    let code = hotp(&secret, now() / 30, 6);
    assert_eq!(
        client
            .delete("/auth/totp")
            .bearer(&token)
            .json(&json!({"password": "correct horse", "code": code}))
            .send()
            .await
            .status(),
        204
    );
    let me: Value = client.get("/auth/me").bearer(&token).send().await.json();
    assert_eq!(me["totp_enabled"], false);
    let login: Value = client
        .post("/auth/login")
        .json(&json!({"email": "ada@example.com", "password": "correct horse"}))
        .send()
        .await
        .json();
    assert!(login["access_token"].as_str().is_some());
}

#[tokio::test]
async fn one_time_codes_are_single_use_and_limited() {
    let mailbox = Mailbox::default();
    let mut config = config();
    config.otp.max_attempts = 2;
    let client = app_with(config, &mailbox).await;
    let token = signed_up(&client, "ada@example.com").await;

    let sent = client.post("/auth/otp/send").bearer(&token).send().await;
    assert_eq!(sent.status(), 202);
    let code = mailbox.last_code();
    assert_eq!(code.len(), 6);
    let verify = |code: String| {
        client
            .post("/auth/otp/verify")
            .bearer(&token)
            .json(&json!({"code": code}))
            .send()
    };
    let ok = verify(code.clone()).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.json::<Value>(), json!({"verified": true}));
    assert_eq!(verify(code).await.status(), 400, "single use");

    assert_eq!(
        client
            .post("/auth/otp/send")
            .bearer(&token)
            .send()
            .await
            .status(),
        202
    );
    let code = mailbox.last_code();
    let wrong = if code == "000000" { "000001" } else { "000000" };
    assert_eq!(verify(wrong.into()).await.status(), 400);
    assert_eq!(verify(wrong.into()).await.status(), 400);
    let exhausted = verify(code).await;
    assert_eq!(
        exhausted.status(),
        429,
        "the right code is dead after the attempts"
    );
    assert_eq!(
        client
            .post("/auth/otp/verify")
            .json(&json!({"code": "1"}))
            .send()
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn one_time_codes_expire() {
    let mailbox = Mailbox::default();
    let mut config = config();
    config.otp.ttl_secs = 1;
    let client = app_with(config, &mailbox).await;
    let token = signed_up(&client, "ada@example.com").await;
    assert_eq!(
        client
            .post("/auth/otp/send")
            .bearer(&token)
            .send()
            .await
            .status(),
        202
    );
    let code = mailbox.last_code();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let late = client
        .post("/auth/otp/verify")
        .bearer(&token)
        .json(&json!({"code": code}))
        .send()
        .await;
    assert_eq!(late.status(), 400);
}

#[tokio::test]
async fn the_development_sender_is_refused_in_production() {
    let config = config().with_env(Environment::Production);
    let err = match TestClient::new(App::new(config).expect("app")).await {
        Err(err) => err.to_string(),
        Ok(_) => panic!("production must refuse the log sender"),
    };
    assert!(err.contains("otp_sender"), "{err}");
    let mailbox = Mailbox::default();
    // A sender of codes is not enough: the reset and verification links of
    // the `/auth` endpoints go by e-mail.
    let config = self::config().with_env(Environment::Production);
    let err =
        match TestClient::new(App::new(config).expect("app").otp_sender(mailbox.clone())).await {
            Err(err) => err.to_string(),
            Ok(_) => panic!("production must refuse the log mailer"),
        };
    assert!(err.contains("XCORE_MAIL_URL"), "{err}");
    let config = self::config().with_env(Environment::Production);
    assert!(
        TestClient::new(
            App::new(config)
                .expect("app")
                .otp_sender(mailbox.clone())
                .mailer(mailbox)
        )
        .await
        .is_ok()
    );
}

#[tokio::test]
async fn a_code_generated_on_one_instance_verifies_on_another_through_redis() {
    let Some(redis) = std::env::var("XCORE_TEST_REDIS_URL")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        eprintln!("skipped: needs XCORE_TEST_REDIS_URL");
        assert!(
            std::env::var("XCORE_TEST_REQUIRE_SERVICES").is_err(),
            "Redis required"
        );
        return;
    };
    let prefix = format!("xcore-test-{}:", uuid::Uuid::new_v4().simple());
    let shared = |base: Config| {
        let mut config = base.with_cache_url(Some(&redis));
        config.cache.prefix = prefix.clone();
        config
    };
    // One token minted for user 7 works on both instances (same secret).
    let mailbox = Mailbox::default();
    let one = app_with(shared(config()), &mailbox).await;
    let two = app_with(shared(config()), &mailbox).await;
    let token = one.token("7", &[]).expect("token");
    assert_eq!(
        one.post("/auth/otp/send")
            .bearer(&token)
            .send()
            .await
            .status(),
        202
    );
    let code = mailbox.last_code();
    let verified = two
        .post("/auth/otp/verify")
        .bearer(&token)
        .json(&json!({"code": code}))
        .send()
        .await;
    assert_eq!(verified.status(), 200, "{}", verified.text());
    let again = one
        .post("/auth/otp/verify")
        .bearer(&token)
        .json(&json!({"code": code}))
        .send()
        .await;
    assert_eq!(again.status(), 400, "used up on every instance");
}

#[tokio::test]
async fn one_time_codes_fail_closed_without_the_cache() {
    let mailbox = Mailbox::default();
    let client = app_with(
        config().with_cache_url(Some("redis://127.0.0.1:1")),
        &mailbox,
    )
    .await;
    let token = client.token("7", &[]).expect("token");
    let response = client.post("/auth/otp/send").bearer(&token).send().await;
    assert_eq!(response.status(), 503);
    let response = client
        .post("/auth/otp/verify")
        .bearer(&token)
        .json(&json!({"code": "123456"}))
        .send()
        .await;
    assert_eq!(response.status(), 503);
}

#[tokio::test]
async fn an_administrator_can_reset_a_lost_second_factor() {
    let mailbox = Mailbox::default();
    let mut config = config();
    config.admin.email = Some("admin@example.com".into());
    config.admin.password = Some("admin password".into());
    let client = app_with(config, &mailbox).await;
    let (token, _) = totp_user(&client).await;
    let me: Value = client.get("/auth/me").bearer(&token).send().await.json();
    let id = me["id"].as_i64().expect("id");
    let admin: Value = client
        .post("/auth/login")
        .json(&json!({"email": "admin@example.com", "password": "admin password"}))
        .send()
        .await
        .json();
    let admin = admin["access_token"].as_str().expect("admin token");

    // Not for users: only an administrator may lift someone's second factor.
    let path = format!("/admin/users/{id}/totp");
    assert_eq!(
        client.delete(&path).bearer(&token).send().await.status(),
        403
    );
    assert_eq!(
        client
            .delete("/admin/users/999999/totp")
            .bearer(admin)
            .send()
            .await
            .status(),
        404
    );
    assert_eq!(
        client.delete(&path).bearer(admin).send().await.status(),
        204
    );

    // The user's sessions ended; the password alone signs in now.
    assert_eq!(
        client.get("/auth/me").bearer(&token).send().await.status(),
        401
    );
    let login: Value = client
        .post("/auth/login")
        .json(&json!({"email": "ada@example.com", "password": "correct horse"}))
        .send()
        .await
        .json();
    let fresh = login["access_token"].as_str().expect("tokens, no MFA step");
    let me: Value = client.get("/auth/me").bearer(fresh).send().await.json();
    assert_eq!(me["totp_enabled"], false);
}

/// Issue 13: with no secret configured, development keeps the one it
/// generated in a file beside the database, so a restart refuses nothing.
#[tokio::test]
async fn a_development_restart_keeps_tokens_and_the_second_factor() {
    let mut config = config();
    config.app_secret = None;
    let database = config.database.url.expose().to_owned();
    let kept = format!(
        "{}-secret",
        database
            .trim_start_matches("sqlite://")
            .split('?')
            .next()
            .expect("file")
    );
    let mailbox = Mailbox::default();
    let client = app_with(config.clone(), &mailbox).await;
    let (token, secret) = totp_user(&client).await;
    drop(client);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&kept)
            .expect("secret file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "only the owner may read the secret");
    }

    // The same configuration, a new process's worth of state.
    let client = app_with(config, &mailbox).await;
    let me = client.get("/auth/me").bearer(&token).send().await;
    assert_eq!(me.status(), 200, "{}", me.text());
    let first: Value = client
        .post("/auth/login")
        .json(&json!({"email": "ada@example.com", "password": "correct horse"}))
        .send()
        .await
        .json();
    let done = client
        .post("/auth/login/totp")
        .json(&json!({"mfa_token": first["mfa_token"], "code": hotp(&secret, now() / 30, 6)}))
        .send()
        .await;
    assert_eq!(
        done.status(),
        200,
        "the TOTP secret still decrypts: {}",
        done.text()
    );
    let _ = std::fs::remove_file(kept);
}
