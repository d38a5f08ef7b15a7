//! Production by configuration alone (issue 13): codes through a real SMTP
//! server, the command line, readiness while a service is down, metrics
//! Prometheus accepts, the optional layers, logs, unknown variables.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use xcore::prelude::*;
use xcore::testing::TestClient;

use crate::common::process::{self, Server};
use crate::common::services::{self, TempDir};
use crate::common::smtp::{SmtpServer, free_port, text_of};
use crate::common::{self, Mailbox};

fn required() -> bool {
    std::env::var("XCORE_TEST_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

const PRODUCTION_SECRET: &str = "a production secret of more than 32 bytes";

fn sqlite_url(dir: &TempDir) -> String {
    format!("sqlite://{}/app.db", dir.0.display())
}

/// Registers and signs in a user on a process.
async fn sign_up(server: &Server, email: &str) -> String {
    let credentials = json!({"email": email, "password": "correct horse"});
    let registered = server
        .request("POST", "/auth/register", Some(&credentials))
        .await
        .expect("register");
    assert_eq!(registered.status, 201, "{}", registered.body);
    let login = server
        .request("POST", "/auth/login", Some(&credentials))
        .await
        .expect("login");
    assert_eq!(login.status, 200, "{}", login.body);
    login.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned()
}

#[tokio::test]
async fn production_sends_codes_through_the_configured_smtp_server() {
    let Some(smtp) = SmtpServer::start().await else {
        return;
    };
    let dir = TempDir::new();
    let env = [
        ("XCORE_ENV", "production".to_owned()),
        ("XCORE_APP_SECRET", PRODUCTION_SECRET.to_owned()),
        ("XCORE_DATABASE_URL", sqlite_url(&dir)),
        ("XCORE_MAIL_URL", smtp.url()),
        (
            "XCORE_MAIL_FROM",
            "Seed Tour <no-reply@seed.example>".to_owned(),
        ),
    ];
    let server = Server::start(&env).await;
    let token = sign_up(&server, "ada@example.com").await;
    let sent = server
        .request_as("POST", "/codes/envoyer", None, Some(&token))
        .await
        .expect("send");
    assert_eq!(sent.status, 202, "{}", sent.body);

    // Registration sent a verification message first; the code is in
    // the other one.
    let message = smtp
        .wait_for(|m| !text_of(m).contains("verify-email"))
        .await;
    assert!(message.contains("ada@example.com"), "{message}");
    assert!(message.contains("no-reply@seed.example"), "{message}");
    let code = message
        .split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == 6)
        .unwrap_or_else(|| panic!("no code in {message}"))
        .to_owned();
    let checked = server
        .request_as(
            "POST",
            "/codes/verifier",
            Some(&json!({"code": code})),
            Some(&token),
        )
        .await
        .expect("verify");
    assert_eq!(checked.json()["valide"], true, "{}", checked.body);
    assert!(!server.log().contains(&code), "the code is never logged");
    // Nor the token of the verification link registration sent.
    let verification = smtp.wait_for(|m| text_of(m).contains("verify-email")).await;
    let token = crate::common::smtp::link_token(&text_of(&verification), "/verify-email")
        .expect("a verification link");
    assert_eq!(token.len(), 64, "{verification}");
    assert!(
        !server.log().contains(&token),
        "link tokens are never logged"
    );
}

#[test]
fn production_without_a_mailer_refuses_to_start_and_says_which_variable() {
    let dir = TempDir::new();
    let output = process::run(
        &[],
        &[
            ("XCORE_ENV", "production".to_owned()),
            ("XCORE_APP_SECRET", PRODUCTION_SECRET.to_owned()),
            ("XCORE_DATABASE_URL", sqlite_url(&dir)),
            ("XCORE_BIND", format!("127.0.0.1:{}", free_port())),
        ],
        "",
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("XCORE_MAIL_URL"), "{stderr}");

    let output = process::run(&["routes"], &[("XCORE_ENV", "production".to_owned())], "");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("XCORE_APP_SECRET"), "{stderr}");
}

#[test]
fn routes_lists_every_route_with_its_guard_cache_and_limits() {
    let output = process::run(&["routes"], &[], "");
    assert!(output.status.success(), "{output:?}");
    let table = String::from_utf8_lossy(&output.stdout);
    let expected = xcore_examples::seed_tour::app(common::config())
        .expect("app")
        .routes();
    assert!(expected.len() > 30);
    for route in &expected {
        assert!(
            table.lines().any(|line| {
                let cells: Vec<&str> = line.split_whitespace().collect();
                cells.first().copied() == Some(route.info.method.to_string().as_str())
                    && cells.get(1) == Some(&route.path.as_str())
                    && cells.get(2) == Some(&route.plugin.as_str())
            }),
            "{} {} missing from\n{table}",
            route.info.method,
            route.path
        );
    }
    let line = |path: &str| {
        table
            .lines()
            .find(|line| line.split_whitespace().nth(1) == Some(path))
            .unwrap_or_else(|| panic!("{path} not in\n{table}"))
            .to_owned()
    };
    assert!(
        line("/codes/envoyer").contains("3/minute per user"),
        "{table}"
    );
    assert!(line("/codes/envoyer").contains("signed in"), "{table}");
    assert!(line("/catalogue/produits").contains("s "), "{table}");
    assert!(
        table.contains("tags produits") && table.contains("invalidates produits"),
        "{table}"
    );
    assert!(line("/admin/roles").contains("role admin"), "{table}");
    assert!(line("/auth/login").contains("per ip"), "{table}");
}

#[tokio::test]
async fn migrate_exits_zero_on_a_fresh_database_of_each_kind() {
    for database in services::databases().await {
        let output = process::run(
            &["migrate"],
            &[("XCORE_DATABASE_URL", database.url.clone())],
            "",
        );
        assert!(output.status.success(), "{}: {output:?}", database.name);
        let db = database.connect().await;
        let (users,): (i64,) = xcore::sqlx::query_as("SELECT COUNT(*) FROM xcore_users")
            .fetch_one(db.pool())
            .await
            .expect("the accounts tables exist");
        assert_eq!(users, 0);
        let (products,): (i64,) = xcore::sqlx::query_as("SELECT COUNT(*) FROM catalogue_produits")
            .fetch_one(db.pool())
            .await
            .expect("the plugins' tables exist");
        assert_eq!(products, 0);
    }
}

#[tokio::test]
async fn create_admin_makes_a_working_administrator_and_never_takes_over_an_account() {
    let dir = TempDir::new();
    let database = ("XCORE_DATABASE_URL", sqlite_url(&dir));
    let secret = ("XCORE_APP_SECRET", PRODUCTION_SECRET.to_owned());
    let output = process::run(
        &["create-admin", "--email", "root@example.com"],
        &[
            database.clone(),
            secret.clone(),
            ("XCORE_ADMIN_PASSWORD", "the root password".to_owned()),
        ],
        "",
    );
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("created administrator"));
    // The password may come on standard input.
    let output = process::run(
        &["create-admin", "--email", "second@example.com"],
        &[database.clone(), secret.clone()],
        "the second password\n",
    );
    assert!(output.status.success(), "{output:?}");

    let server = Server::start(&[database.clone(), secret.clone()]).await;
    for (email, password) in [
        ("root@example.com", "the root password"),
        ("second@example.com", "the second password"),
    ] {
        let login = server
            .request(
                "POST",
                "/auth/login",
                Some(&json!({"email": email, "password": password})),
            )
            .await
            .expect("login");
        assert_eq!(login.status, 200, "{}", login.body);
        let token = login.json()["access_token"]
            .as_str()
            .expect("token")
            .to_owned();
        let roles = server
            .request_as("GET", "/admin/roles", None, Some(&token))
            .await
            .expect("roles");
        assert_eq!(roles.status, 200, "{email}: {}", roles.body);
    }

    // An account someone else registered is not promoted without its password.
    let _ = sign_up(&server, "mallory@example.com").await;
    drop(server);
    let output = process::run(
        &["create-admin", "--email", "mallory@example.com"],
        &[
            database.clone(),
            secret.clone(),
            ("XCORE_ADMIN_PASSWORD", "not mallory's password".to_owned()),
        ],
        "",
    );
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not its password"));
    let output = process::run(
        &["create-admin", "--email", "mallory@example.com"],
        &[database, secret],
        "",
    );
    assert!(!output.status.success(), "no password, no administrator");
}

#[test]
fn check_config_prints_the_configuration_redacted_and_lists_its_problems() {
    let dir = TempDir::new();
    let env = [
        ("XCORE_APP_SECRET", PRODUCTION_SECRET.to_owned()),
        ("XCORE_DATABASE_URL", sqlite_url(&dir)),
        (
            "XCORE_CACHE_URL",
            "redis://user:redis-password@127.0.0.1:1".to_owned(),
        ),
    ];
    let output = process::run(&["check-config"], &env[..2], "");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains("no problem found"), "{stdout}");
    assert!(stdout.contains("[redacted]"), "{stdout}");
    assert!(!stdout.contains(PRODUCTION_SECRET), "{stdout}");
    assert!(stdout.contains("[auth]"), "{stdout}");

    let mut with_problems = env.to_vec();
    with_problems.push(("XCORE_AUTH_LOGIN_MAX_FAILURE", "3".to_owned()));
    let output = process::run(&["check-config"], &with_problems, "");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(
        stdout.contains("XCORE_AUTH_LOGIN_MAX_FAILURES"),
        "the closest key: {stdout}"
    );
    assert!(!stdout.contains("redis-password"), "{stdout}");
}

#[test]
fn check_config_names_weak_production_settings_and_changes_nothing() {
    let dir = TempDir::new();
    let env = [
        ("XCORE_ENV", "production".to_owned()),
        ("XCORE_APP_SECRET", PRODUCTION_SECRET.to_owned()),
        ("XCORE_DATABASE_URL", sqlite_url(&dir)),
        (
            "XCORE_HTTP_TRUSTED_PROXIES",
            "10.0.0.0/8, 0.0.0.0/0".to_owned(),
        ),
        ("XCORE_HTTP_CORS_ORIGINS", "*".to_owned()),
        ("XCORE_AUTH_PUBLIC_URL", "http://shop.example".to_owned()),
        (
            "XCORE_MAIL_URL",
            "smtp://mailer:mail-password@mail.example.com:25".to_owned(),
        ),
        ("XCORE_MAIL_FROM", "shop@shop.example".to_owned()),
        ("XCORE_ADMIN_EMAIL", "root@shop.example".to_owned()),
        (
            "XCORE_ADMIN_PASSWORD",
            "an administrator's passphrase".to_owned(),
        ),
    ];
    let output = process::run(&["check-config"], &env, "");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "warnings only: {output:?}");
    let warnings: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("# warning: "))
        .collect();
    for key in [
        "http.trusted_proxies trusts 0.0.0.0/0",
        "http.cors_origins",
        "auth.public_url",
        "mail.url",
    ] {
        assert!(
            warnings.iter().any(|line| line.contains(key)),
            "{key}: {stdout}"
        );
    }
    assert_eq!(warnings.len(), 4, "10.0.0.0/8 is fine: {stdout}");
    assert!(!stdout.contains("mail-password"), "{stdout}");
    // Read-only: no database file, so no migration and no administrator.
    let file = dir.0.join("app.db");
    assert!(!file.exists(), "check-config created the database");
    assert!(stdout.contains("does not exist yet"), "{stdout}");

    let output = process::run(&["check-config", "--strict"], &env, "");
    assert!(!output.status.success(), "--strict fails on warnings");

    // An existing (empty) database is opened read-only and left as it was.
    std::fs::write(&file, b"").expect("empty database");
    let output = process::run(&["check-config"], &env, "");
    assert!(output.status.success(), "{output:?}");
    let size = std::fs::metadata(&file).expect("database").len();
    assert_eq!(size, 0, "check-config wrote to the database");
}

#[tokio::test]
async fn an_unknown_variable_is_a_warning_and_the_server_serves() {
    let dir = TempDir::new();
    let server = Server::start(&[
        ("XCORE_DATABASE_URL", sqlite_url(&dir)),
        ("XCORE_SOMETHING_ELSE", "1".to_owned()),
    ])
    .await;
    let hello = server.request("GET", "/hello/", None).await.expect("hello");
    assert_eq!(hello.status, 200);
    let log = server.log();
    assert!(log.contains("XCORE_SOMETHING_ELSE"), "{log}");
    assert!(log.contains("WARN"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "no colour escapes in a log file: {log:?}"
    );
    // The development secret is kept beside the database, and said so.
    assert!(log.contains("app.db-secret"), "{log}");
    assert!(dir.0.join("app.db-secret").exists());
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let dir = TempDir::new();
    let server = Server::start(&[
        ("XCORE_DATABASE_URL", sqlite_url(&dir)),
        ("XCORE_LOG_FORMAT", "json".to_owned()),
        ("RUST_LOG", "info".to_owned()),
    ])
    .await;
    let _ = server.request("GET", "/hello/", None).await.expect("hello");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = server.log();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 2, "{log}");
    for line in lines {
        let object: Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(object["level"].is_string(), "{line}");
    }
}

/// A TCP proxy the test can cut, standing for a service that goes down
/// (stopping the real PostgreSQL or Redis would fail the tests running
/// beside this one).
struct Proxy {
    addr: std::net::SocketAddr,
    up: Arc<AtomicBool>,
    connections: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Proxy {
    async fn to(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let up = Arc::new(AtomicBool::new(true));
        let connections = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (accepting, tracked) = (Arc::clone(&up), Arc::clone(&connections));
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !accepting.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused
                }
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tracked
                    .lock()
                    .expect("connections")
                    .push(task.abort_handle());
            }
        });
        Proxy {
            addr,
            up,
            connections,
        }
    }

    /// Cuts every connection and refuses new ones.
    fn stop(&self) {
        self.up.store(false, Ordering::SeqCst);
        for connection in self.connections.lock().expect("connections").drain(..) {
            connection.abort();
        }
    }

    fn start(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// `scheme://user@host:port/rest` with the host and port replaced.
fn through(url: &str, proxy: &Proxy) -> (String, String) {
    let (scheme, rest) = url.split_once("://").expect("URL");
    let (user, rest) = match rest.split_once('@') {
        Some((user, rest)) => (format!("{user}@"), rest),
        None => (String::new(), rest),
    };
    let (host, path) = match rest.split_once('/') {
        Some((host, path)) => (host, format!("/{path}")),
        None => (rest, String::new()),
    };
    (
        format!("{scheme}://{user}{}{path}", proxy.addr),
        host.to_owned(),
    )
}

async fn ready(client: &TestClient) -> (u16, Value) {
    let response = client.get("/ready").send().await;
    if response.status() == 503 {
        assert!(response.header("retry-after").is_some());
    }
    (response.status().as_u16(), response.json())
}

async fn until_ready(client: &TestClient) {
    let started = Instant::now();
    while ready(client).await.0 != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not ready again after the service came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn ready_is_503_naming_the_service_that_is_down_and_recovers_by_itself() {
    let (Some(database), Some(redis)) = (
        services::databases()
            .await
            .into_iter()
            .find(|d| d.name == "postgres"),
        services::caches().into_iter().find(|c| c.name == "redis"),
    ) else {
        return; // skipped: PostgreSQL or Redis not configured
    };
    let redis_url = redis.url.clone().expect("url");
    let (_, pg_host) = through(&database.url, &Proxy::to(String::new()).await);
    let pg = Proxy::to(pg_host).await;
    let (pg_url, _) = through(&database.url, &pg);
    let (_, redis_host) = through(&redis_url, &Proxy::to(String::new()).await);
    let cache = Proxy::to(redis_host).await;
    let (cache_url, _) = through(&redis_url, &cache);

    let mut config = common::config().with_database_url(pg_url.as_str());
    config.database.acquire_timeout_secs = 1;
    config = config.with_cache_url(Some(&cache_url));
    config.cache.prefix = redis.prefix.clone();
    let client = TestClient::new(
        xcore_examples::seed_tour::app(config)
            .expect("app")
            .otp_sender(Mailbox::default()),
    )
    .await
    .expect("app");
    assert_eq!(ready(&client).await.0, 200);
    assert_eq!(client.get("/health").send().await.status(), 200);

    pg.stop();
    let (status, body) = ready(&client).await;
    assert_eq!(status, 503, "{body}");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("database") && !message.contains("cache"),
        "{message}"
    );
    assert_eq!(
        client.get("/health").send().await.status(),
        200,
        "still alive"
    );
    let login = client
        .post("/auth/login")
        .json(&json!({"email": "ada@example.com", "password": "correct horse"}))
        .send()
        .await;
    assert_eq!(login.status(), 503, "{}", login.text());
    pg.start();
    until_ready(&client).await;

    cache.stop();
    let (status, body) = ready(&client).await;
    assert_eq!(status, 503, "{body}");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("cache") && !message.contains("database"),
        "{message}"
    );
    cache.start();
    until_ready(&client).await;
}

/// `promtool check metrics` on `text`: `None` when promtool is missing
/// (and the services are not required).
fn promtool(text: &str) -> Option<std::process::Output> {
    use std::io::Write;
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        assert!(
            !required(),
            "promtool is missing but XCORE_TEST_REQUIRE_SERVICES=1"
        );
        eprintln!("skipped: no promtool");
        return None;
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    Some(child.wait_with_output().expect("promtool"))
}

fn sample(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name_and_labels))
        .and_then(|value| value.trim().split(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_count_requests_cache_outcomes_and_refusals_and_promtool_accepts_them() {
    let mut config = common::config();
    config.metrics.enabled = true;
    let client = TestClient::new(
        xcore_examples::seed_tour::app(config)
            .expect("app")
            .otp_sender(Mailbox::default()),
    )
    .await
    .expect("app");
    for _ in 0..3 {
        assert_eq!(client.get("/hello/").send().await.status(), 200);
    }
    for _ in 0..2 {
        assert_eq!(client.get("/catalogue/produits").send().await.status(), 200);
    }
    let wrong = client
        .post("/auth/login")
        .json(&json!({"email": "nobody@example.com", "password": "wrong password"}))
        .send()
        .await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(client.get("/auth/me").send().await.status(), 401);
    assert_eq!(client.get("/no/such/route").send().await.status(), 404);

    let scraped = client.get("/metrics").send().await;
    assert_eq!(scraped.status(), 200);
    let text = scraped.text();
    assert_eq!(
        sample(
            &text,
            r#"xcore_http_requests_total{method="GET",route="/hello/",status="200"}"#
        ),
        3.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"xcore_cache_responses_total{plugin="catalogue",outcome="miss"}"#
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"xcore_cache_responses_total{plugin="catalogue",outcome="hit"}"#
        ),
        1.0,
        "{text}"
    );
    let auth_failures: f64 = text
        .lines()
        .filter(|line| line.starts_with("xcore_auth_failures_total{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(auth_failures >= 2.0, "{text}");
    assert!(
        text.contains("xcore_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("xcore_db_pool_connections"), "{text}");
    assert!(text.contains("xcore_password_hashes_in_flight"), "{text}");
    assert!(
        text.contains(r#"route="unmatched""#),
        "404s share one label: {text}"
    );
    if let Some(output) = promtool(&text) {
        assert!(
            output.status.success(),
            "promtool: {}{}\n{text}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let open = client
        .get("/metrics")
        .header("accept", "application/openmetrics-text; version=1.0.0")
        .send()
        .await;
    assert!(
        open.text().ends_with("# EOF\n"),
        "OpenMetrics when asked for"
    );
    // Off by default: no route, no cost.
    let plain = common::client(xcore_examples::seed_tour::hello::Hello).await;
    assert_eq!(plain.get("/metrics").send().await.status(), 404);
}

pub struct Slow;

#[plugin(prefix = "/slow")]
impl Slow {
    #[route(get, "/")]
    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_secs(5)).await;
        "late"
    }

    #[route(get, "/big")]
    async fn big() -> String {
        "compressible ".repeat(200)
    }
}

#[tokio::test]
async fn layers_from_code_and_from_configuration_wrap_every_route() {
    let mut config = common::config();
    config.http.cors_origins = xcore::config::StringList(vec!["https://app.example".into()]);
    config.http.compression = true;
    config.http.security_headers = true;
    config.http.request_timeout_secs = 1;
    let app = App::new(config)
        .expect("app")
        .plugin(Slow)
        .layer(xcore::axum::middleware::from_fn(
            |request, next: xcore::axum::middleware::Next| async move {
                let mut response = next.run(request).await;
                response.headers_mut().insert(
                    "x-from-a-layer",
                    xcore::axum::http::HeaderValue::from_static("yes"),
                );
                response
            },
        ));
    let client = TestClient::new(app).await.expect("app");

    for path in ["/auth/me", "/slow/big"] {
        let response = client.get(path).send().await;
        assert_eq!(response.header("x-from-a-layer"), Some("yes"), "{path}");
        assert!(
            response.header("strict-transport-security").is_some(),
            "{path}"
        );
        assert_eq!(response.header("x-frame-options"), Some("DENY"), "{path}");
    }
    let compressed = client
        .get("/slow/big")
        .header("accept-encoding", "gzip")
        .send()
        .await;
    assert_eq!(compressed.header("content-encoding"), Some("gzip"));
    assert!(compressed.bytes().len() < 200);

    let preflight = client
        .request(xcore::axum::http::Method::OPTIONS, "/auth/login")
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await;
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let foreign = client
        .get("/slow/big")
        .header("origin", "https://evil.example")
        .send()
        .await;
    assert_eq!(foreign.header("access-control-allow-origin"), None);

    let started = Instant::now();
    let late = client.get("/slow/").send().await;
    assert_eq!(late.status(), 408);
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn closed_registration_leaves_new_accounts_to_administrators() {
    let mut config = common::config();
    config.auth.registration = false;
    let client = TestClient::new(App::new(config).expect("app"))
        .await
        .expect("app");
    let credentials = json!({"email": "ada@example.com", "password": "correct horse"});
    let refused = client
        .post("/auth/register")
        .json(&credentials)
        .send()
        .await;
    assert_eq!(refused.status(), 403, "{}", refused.text());
    assert_eq!(common::error_code(&refused), "forbidden");

    let admin = client.token("1", &["admin"]).expect("token");
    let created = client
        .post("/admin/users")
        .bearer(&admin)
        .json(&credentials)
        .send()
        .await;
    assert_eq!(created.status(), 201, "{}", created.text());
    assert_eq!(created.json::<Value>()["email"], "ada@example.com");
    let again = client
        .post("/admin/users")
        .bearer(&admin)
        .json(&credentials)
        .send()
        .await;
    assert_eq!(again.status(), 409);
    let user = client.token("2", &[]).expect("token");
    let not_admin = client
        .post("/admin/users")
        .bearer(&user)
        .json(&json!({"email": "eve@example.com", "password": "correct horse"}))
        .send()
        .await;
    assert_eq!(not_admin.status(), 403);
    let login = client.post("/auth/login").json(&credentials).send().await;
    assert_eq!(login.status(), 200, "{}", login.text());
}
