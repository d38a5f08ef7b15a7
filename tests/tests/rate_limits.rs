//! `#[rate_limit]` over HTTP, in-process and in Redis, one instance and
//! two: the limit counted per key, exactly, even for requests sent at once;
//! headers; configuration; and what happens when Redis is down.

use std::time::Duration;

use serde_json::{Value, json};
use xcore::config::Config;
use xcore::prelude::*;
use xcore::testing::{TestClient, TestResponse};
use xcore_examples::seed_tour;

use crate::common::services::{self, TestCache};
use crate::common::{self, Mailbox};

async fn tour(config: Config) -> TestClient {
    TestClient::new(
        seed_tour::app(config)
            .expect("app")
            .otp_sender(Mailbox::default()),
    )
    .await
    .expect("app")
}

async fn user_token(client: &TestClient, email: &str) -> String {
    let body = json!({"email": email, "password": "correct horse"});
    let created = client.post("/auth/register").json(&body).send().await;
    assert_eq!(created.status(), 201, "{}", created.text());
    let pair: Value = client.post("/auth/login").json(&body).send().await.json();
    pair["access_token"].as_str().expect("token").to_owned()
}

async fn envoyer(client: &TestClient, token: &str) -> TestResponse {
    client.post("/codes/envoyer").bearer(token).send().await
}

#[tokio::test]
async fn the_fourth_code_within_a_minute_is_refused_for_that_user_only() {
    for backend in services::caches() {
        let client = tour(backend.apply(common::config())).await;
        let ada = user_token(&client, "ada@example.com").await;
        let bob = user_token(&client, "bob@example.com").await;
        for _ in 0..3 {
            let sent = envoyer(&client, &ada).await;
            assert_eq!(sent.status(), 202, "{}: {}", backend.name, sent.text());
        }
        let fourth = envoyer(&client, &ada).await;
        assert_eq!(fourth.status(), 429, "{}", backend.name);
        assert_eq!(
            fourth.header("ratelimit-policy"),
            Some(r#""3-per-minute";q=3;w=60"#)
        );
        let state = fourth.header("ratelimit").expect("RateLimit");
        assert!(
            state.starts_with(r#""3-per-minute";r=0;t="#),
            "{}: {state}",
            backend.name
        );
        assert_eq!(common::error_code(&fourth), "too_many_requests");
        let retry: u64 = fourth
            .header("retry-after")
            .expect("Retry-After")
            .parse()
            .expect("seconds");
        assert!((1..=20).contains(&retry), "{retry}");
        assert_eq!(envoyer(&client, &bob).await.status(), 202, "another user");
    }
}

#[tokio::test]
async fn two_instances_sharing_redis_allow_the_limit_once() {
    let Some(redis) = services::caches().into_iter().find(|c| c.url.is_some()) else {
        return;
    };
    let database = services::databases()
        .await
        .into_iter()
        .find(|d| d.name == "postgres")
        .expect("postgres");
    let config = redis
        .apply(common::config())
        .with_database_url(database.url.as_str());
    let one = tour(config.clone()).await;
    let two = tour(config).await;
    let ada = user_token(&one, "ada@example.com").await;
    let mut statuses = Vec::new();
    for client in [&one, &two, &one, &two, &two, &one] {
        statuses.push(envoyer(client, &ada).await.status().as_u16());
    }
    assert_eq!(statuses, [202, 202, 202, 429, 429, 429]);
}

/// A route limited per address, to send hundreds of requests at once.
struct Burst;

#[plugin(name = "burst", prefix = "/burst")]
impl Burst {
    #[route(post, "/")]
    // Per hour: however long a burst takes on a loaded machine, no
    // request is refilled during it.
    #[rate_limit(50, per = "hour", key = ip)]
    async fn hit() -> StatusCode {
        StatusCode::NO_CONTENT
    }

    #[route(get, "/smooth")]
    #[rate_limit(2, per = "second", key = ip)]
    async fn smooth() -> &'static str {
        "ok"
    }

    #[route(get, "/items/{id}")]
    #[rate_limit(1, per = "minute", key = "{id}")]
    async fn item(Path(id): Path<u32>) -> String {
        id.to_string()
    }
}

async fn burst_client(cache: &TestCache, tweak: impl FnOnce(&mut Config)) -> TestClient {
    let mut config = cache.apply(common::config());
    tweak(&mut config);
    TestClient::new(App::new(config).expect("app").plugin(Burst))
        .await
        .expect("app")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_hundred_requests_at_once_allow_exactly_the_limit() {
    for backend in services::caches() {
        // A plugin's limit fails open when Redis is slower than the cache
        // timeout: on a machine busy with the rest of the suite, give it
        // time, so what is measured is the counting.
        let client = burst_client(&backend, |config| config.cache.timeout_ms = 10_000).await;
        let tasks: Vec<_> = (0..400)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move { client.post("/burst/").send().await.status().as_u16() })
            })
            .collect();
        let mut allowed = 0;
        let mut refused = 0;
        for task in tasks {
            match task.await.expect("task") {
                204 => allowed += 1,
                429 => refused += 1,
                other => panic!("{}: {other}", backend.name),
            }
        }
        assert_eq!((allowed, refused), (50, 350), "{}", backend.name);
    }
}

#[tokio::test]
async fn the_window_slides_instead_of_resetting() {
    for backend in services::caches() {
        let client = burst_client(&backend, |_| {}).await;
        // 2 a second: one request "costs" half a second.
        assert_eq!(client.get("/burst/smooth").send().await.status(), 200);
        assert_eq!(client.get("/burst/smooth").send().await.status(), 200);
        assert_eq!(client.get("/burst/smooth").send().await.status(), 429);
        tokio::time::sleep(Duration::from_millis(600)).await;
        // Half a second later one more passes, not two: no boundary where
        // a fixed window would hand out a fresh quota at once.
        assert_eq!(
            client.get("/burst/smooth").send().await.status(),
            200,
            "{}",
            backend.name
        );
        assert_eq!(
            client.get("/burst/smooth").send().await.status(),
            429,
            "{}",
            backend.name
        );
    }
}

#[tokio::test]
async fn limits_count_per_path_parameter_and_per_forwarded_address() {
    for backend in services::caches() {
        let client = burst_client(&backend, |_| {}).await;
        assert_eq!(client.get("/burst/items/1").send().await.status(), 200);
        assert_eq!(client.get("/burst/items/1").send().await.status(), 429);
        assert_eq!(client.get("/burst/items/2").send().await.status(), 200);

        // Behind a trusted proxy, each forwarded client has its own count;
        // from anyone else the header is ignored.
        let client = burst_client(&backend, |config| {
            config.http.trusted_proxies = serde_json::from_value(json!("127.0.0.1")).expect("list");
        })
        .await;
        let from = |address: &str| {
            client
                .get("/burst/smooth")
                .header("x-forwarded-for", address)
                .send()
        };
        for address in ["198.51.100.1", "198.51.100.2"] {
            assert_eq!(from(address).await.status(), 200);
            assert_eq!(from(address).await.status(), 200);
            assert_eq!(from(address).await.status(), 429, "{address}");
        }
        let untrusted = burst_client(&backend, |_| {}).await;
        for (address, status) in [
            ("198.51.100.1", 200),
            ("198.51.100.2", 200),
            ("198.51.100.3", 429),
        ] {
            let response = untrusted
                .get("/burst/smooth")
                .header("x-forwarded-for", address)
                .send()
                .await;
            assert_eq!(response.status(), status, "untrusted {address}");
        }
    }
}

#[tokio::test]
async fn configuration_changes_or_removes_a_limit_without_recompiling() {
    let mut off = common::config();
    off.rate_limit
        .routes
        .insert("codes.envoyer".into(), "off".into());
    let client = tour(off).await;
    let ada = user_token(&client, "ada@example.com").await;
    for _ in 0..5 {
        assert_eq!(envoyer(&client, &ada).await.status(), 202);
    }

    let mut one = common::config();
    one.rate_limit
        .routes
        .insert("codes.envoyer".into(), "1/minute, 10/day".into());
    let client = tour(one).await;
    let ada = user_token(&client, "ada@example.com").await;
    assert_eq!(envoyer(&client, &ada).await.status(), 202);
    let second = envoyer(&client, &ada).await;
    assert_eq!(second.status(), 429);
    assert_eq!(
        second.header("ratelimit-policy"),
        Some(r#""1-per-minute";q=1;w=60, "10-per-day";q=10;w=86400"#)
    );

    let mut bad = common::config();
    bad.rate_limit
        .routes
        .insert("codes.envoyer".into(), "often".into());
    let refused = seed_tour::app(bad).expect("app").into_router().await;
    assert!(matches!(refused, Err(Error::Config(message)) if message.contains("codes.envoyer")));
}

#[tokio::test]
async fn the_built_in_endpoints_are_limited_and_can_be_set_as_one() {
    let mut config = common::config();
    config.rate_limit.builtin = true;
    config.rate_limit.builtin_default = Some("2/second".into());
    let client = tour(config).await;
    let register = |email: &str| {
        client
            .post("/auth/register")
            .json(&json!({"email": email, "password": "correct horse"}))
            .send()
    };
    assert_eq!(register("a@example.com").await.status(), 201);
    assert_eq!(register("b@example.com").await.status(), 201);
    let third = register("c@example.com").await;
    assert_eq!(third.status(), 429);
    assert!(third.header("retry-after").is_some());
    // Another address is not affected.
    let elsewhere = client
        .post("/auth/register")
        .from_ip("198.51.100.9".parse().expect("ip"))
        .json(&json!({"email": "d@example.com", "password": "correct horse"}))
        .send()
        .await;
    assert_eq!(elsewhere.status(), 201);

    // Refreshes are limited per session, and a refused one keeps its token.
    let body = json!({"email": "a@example.com", "password": "correct horse"});
    let pair: Value = client
        .post("/auth/login")
        .from_ip("198.51.100.10".parse().expect("ip"))
        .json(&body)
        .send()
        .await
        .json();
    let mut refresh = pair["refresh_token"].as_str().expect("refresh").to_owned();
    // From a new address each time: the route's limit per address is not
    // what answers.
    for n in 0..2 {
        let next: Value = client
            .post("/auth/refresh")
            .from_ip(format!("198.51.100.{}", 20 + n).parse().expect("ip"))
            .json(&json!({"refresh_token": refresh}))
            .send()
            .await
            .json();
        refresh = next["refresh_token"].as_str().expect("rotated").to_owned();
    }
    let limited = client
        .post("/auth/refresh")
        .from_ip("198.51.100.30".parse().expect("ip"))
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await;
    assert_eq!(limited.status(), 429, "{}", limited.text());
    // The refused refresh did not spend the token.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let later = client
        .post("/auth/refresh")
        .from_ip("198.51.100.31".parse().expect("ip"))
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await;
    assert_eq!(later.status(), 200, "{}", later.text());
}

#[tokio::test]
async fn with_redis_down_security_endpoints_fail_closed_and_plugin_routes_open() {
    let Some(redis) = services::caches().into_iter().find(|c| c.url.is_some()) else {
        return;
    };
    let database = services::databases()
        .await
        .into_iter()
        .find(|d| d.name == "postgres")
        .expect("postgres");
    let mut config = redis
        .apply(common::config())
        .with_database_url(database.url.as_str());
    config.rate_limit.builtin = true;
    let up = tour(config.clone()).await;
    let ada = user_token(&up, "ada@example.com").await;

    // The same deployment, its Redis gone. Sessions are checked in the
    // cache too, so only tokens minted without a session still pass.
    let mut down = config.with_cache_url(Some("redis://127.0.0.1:1"));
    down.cache.timeout_ms = 200;
    let client = TestClient::new(
        seed_tour::app(down)
            .expect("app")
            .plugin(Burst)
            .otp_sender(Mailbox::default()),
    )
    .await
    .expect("app");
    let minted = client.token("1", &[]).expect("token");
    let login = client
        .post("/auth/login")
        .json(&json!({"email": "ada@example.com", "password": "correct horse"}))
        .send()
        .await;
    assert_eq!(login.status(), 503, "a security endpoint fails closed");
    let otp = client.post("/auth/otp/send").bearer(&minted).send().await;
    assert_eq!(otp.status(), 503, "so does the built-in code sender");
    let plugin_route = client.post("/burst/").send().await;
    assert_eq!(plugin_route.status(), 204, "a plugin route fails open");
    let _ = ada;
}

#[tokio::test]
async fn the_api_document_shows_the_limits() {
    let client = tour(common::config()).await;
    let doc: Value = client.get("/openapi.json").send().await.json();
    let envoyer = &doc["paths"]["/codes/envoyer"]["post"];
    assert_eq!(
        envoyer["x-xcore-rate-limits"],
        json!([{"count": 3, "period_secs": 60, "key": ["user"]}])
    );
    assert_eq!(
        envoyer["responses"]["429"]["$ref"],
        "#/components/responses/TooManyRequests"
    );
    assert!(
        doc["paths"]["/hello/"]["get"]["responses"]
            .get("429")
            .is_none()
    );
}
