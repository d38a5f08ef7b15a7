//! Plugins as living units (issue 28): their own configuration section, an
//! on/off switch, declared dependencies. In process with the seed tour, and
//! as a real process for the variables, `xcore.toml` and the `routes`
//! command.

use std::sync::Arc;

use serde_json::{Value, json};
use xcore::config::Config;
use xcore::prelude::*;
use xcore::testing::TestClient;
use xcore::{PluginMeta, Routes};
use xcore_examples::seed_tour;

use crate::common::process::{self, Server};
use crate::common::{self, Mailbox};

/// `config` with `[plugins.<name>]` set to `section`.
fn with_section(mut config: Config, name: &str, section: Value) -> Config {
    config.plugins.insert(name.to_owned(), section);
    config
}

async fn tour(config: Config) -> xcore::Result<TestClient> {
    TestClient::new(
        seed_tour::app(config)?
            .otp_sender(Mailbox::default())
            .mailer(Mailbox::default()),
    )
    .await
}

/// Why the tour refused to start with `config`.
async fn refusal(config: Config) -> String {
    match tour(config).await {
        Ok(_) => panic!("the app started"),
        Err(err) => err.to_string(),
    }
}

async fn add_products(client: &TestClient, count: usize) {
    for i in 0..count {
        xcore::sqlx::query("INSERT INTO catalogue_produits (nom, prix_centimes) VALUES ($1, $2)")
            .bind(format!("produit {i}"))
            .bind(100_i64)
            .execute(client.db().pool())
            .await
            .expect("product");
    }
}

async fn listed(client: &TestClient) -> usize {
    let products: Value = client.get("/catalogue/produits").send().await.json();
    products.as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_plugin_reads_its_own_section() {
    let default = tour(common::config()).await.expect("app");
    add_products(&default, 25).await;
    assert_eq!(listed(&default).await, 20, "page_size defaults to 20");

    let five = tour(with_section(
        common::config(),
        "catalogue",
        json!({"page_size": 5}),
    ))
    .await
    .expect("app");
    add_products(&five, 8).await;
    assert_eq!(listed(&five).await, 5);
}

#[tokio::test]
async fn a_wrong_section_refuses_to_start_naming_the_key() {
    let misspelt = refusal(with_section(
        common::config(),
        "catalogue",
        json!({"page_siz": 5}),
    ))
    .await;
    assert!(
        misspelt.contains("plugins.catalogue.page_siz: unknown key")
            && misspelt.contains("the closest is plugins.catalogue.page_size"),
        "{misspelt}"
    );
    let ill_typed = refusal(with_section(
        common::config(),
        "catalogue",
        json!({"page_size": "five"}),
    ))
    .await;
    assert!(
        ill_typed.contains("plugins.catalogue.page_size: invalid type"),
        "{ill_typed}"
    );
    let no_such_plugin = refusal(with_section(
        common::config(),
        "catalog",
        json!({"page_size": 5}),
    ))
    .await;
    assert!(
        no_such_plugin.contains("plugins.catalog: no plugin is named `catalog`")
            && no_such_plugin.contains("the closest is `catalogue`"),
        "{no_such_plugin}"
    );
    let no_settings = refusal(with_section(common::config(), "hello", json!({"x": 1}))).await;
    assert!(
        no_settings.contains("plugins.hello.x: plugin `hello` has no configuration but `enabled`"),
        "{no_settings}"
    );
    let not_a_switch = refusal(with_section(
        common::config(),
        "hello",
        json!({"enabled": "no"}),
    ))
    .await;
    assert!(
        not_a_switch.contains("plugins.hello.enabled"),
        "{not_a_switch}"
    );
}

#[tokio::test]
async fn a_disabled_plugin_vanishes_and_its_dependents_cannot_start_without_it() {
    let mut config = with_section(
        common::config(),
        "tableau-de-bord",
        json!({"enabled": false}),
    );
    config.openapi.enabled = Some(true);
    let client = tour(config).await.expect("app");
    let stats = client.get("/tableau-de-bord/stats").send().await;
    assert_eq!(stats.status(), 404);
    let document = client.get("/openapi.json").send().await.text();
    assert!(document.contains("/catalogue/produits"), "the others stay");
    assert!(!document.contains("tableau-de-bord"), "{document}");

    // The built-in ones too, whatever their own switch says.
    let no_admin = tour(with_section(
        common::config(),
        "admin",
        json!({"enabled": false}),
    ))
    .await
    .expect("app");
    assert_eq!(no_admin.get("/admin/roles").send().await.status(), 404);

    let refused = refusal(with_section(
        common::config(),
        "catalogue",
        json!({"enabled": false}),
    ))
    .await;
    assert!(
        refused.contains(
            "plugin `tableau-de-bord` depends on `catalogue`, which is disabled \
             (plugins.catalogue.enabled = false)"
        ),
        "{refused}"
    );
}

/// A plugin written by hand, depending on others.
struct Needs(PluginMeta);

impl Plugin for Needs {
    fn meta(&self) -> PluginMeta {
        self.0.clone()
    }
    fn routes(self: Arc<Self>) -> Routes {
        Routes::new()
    }
}

fn needs(name: &'static str, version: &'static str, depends_on: &[&'static str]) -> Needs {
    Needs(
        PluginMeta::new(name)
            .version(version)
            .depends_on(depends_on.iter().copied()),
    )
}

#[tokio::test]
async fn missing_mismatched_and_circular_dependencies_refuse_to_start() {
    let start = |app: App| async move {
        match TestClient::new(app).await {
            Ok(_) => "started".to_owned(),
            Err(err) => err.to_string(),
        }
    };
    let missing = start(App::new(common::config()).expect("app").plugin(needs(
        "rapports",
        "1.0.0",
        &["ventes"],
    )))
    .await;
    assert!(
        missing.contains("plugin `rapports` depends on `ventes`, which is not registered"),
        "{missing}"
    );
    let mismatched = start(seed_tour::app(common::config()).expect("app").plugin(needs(
        "rapports",
        "1.0.0",
        &["catalogue@^2"],
    )))
    .await;
    assert!(
        mismatched.contains("plugin `rapports` needs `catalogue` ^2, and `catalogue` is 1.0.0"),
        "{mismatched}"
    );
    let cycle = start(
        App::new(common::config())
            .expect("app")
            .plugin(needs("a", "1.0.0", &["b"]))
            .plugin(needs("b", "1.0.0", &["c"]))
            .plugin(needs("c", "1.0.0", &["a"])),
    )
    .await;
    assert!(
        cycle.contains("plugins depend on each other in a cycle: a → b → c → a"),
        "{cycle}"
    );
    let fine = start(seed_tour::app(common::config()).expect("app").plugin(needs(
        "rapports",
        "1.0.0",
        &["catalogue@^1", "auth"],
    )))
    .await;
    assert_eq!(fine, "started");
}

#[tokio::test]
async fn variables_and_the_file_set_a_plugins_section() {
    let dir = std::env::temp_dir().join(format!("xcore-plugins-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let database = format!("sqlite://{}/tour.db", dir.display());
    let env = |extra: &[(&'static str, String)]| {
        let mut env = vec![
            ("XCORE_DATABASE_URL", database.clone()),
            (
                "XCORE_APP_SECRET",
                "a secret of at least thirty-two bytes!!".to_owned(),
            ),
            ("XCORE_LIFECYCLE_SHUTDOWN_TIMEOUT_SECS", "2".to_owned()),
            ("RUST_LOG", "info".to_owned()),
        ];
        env.extend(extra.iter().cloned());
        env
    };

    // A variable sets the page size.
    let server = Server::start(&env(&[("XCORE_PLUGINS__CATALOGUE__PAGE_SIZE", "5".into())])).await;
    let db = xcore::db::Db::connect(
        &Config::default()
            .with_database_url(database.as_str())
            .database,
    )
    .await
    .expect("database");
    for i in 0..8 {
        xcore::sqlx::query("INSERT INTO catalogue_produits (nom, prix_centimes) VALUES ($1, 1)")
            .bind(format!("produit {i}"))
            .execute(db.pool())
            .await
            .expect("product");
    }
    let listed = server
        .request("GET", "/catalogue/produits", None)
        .await
        .expect("answer");
    assert_eq!(
        listed.json().as_array().map(Vec::len),
        Some(5),
        "{}",
        server.log()
    );
    // SIGTERM with a connection open: the process ends within the
    // shutdown deadline, its stop hook run.
    let mut server = server;
    let idle = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let status = server.terminate(std::time::Duration::from_secs(5));
    drop(idle);
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}: {}",
        server.log()
    );
    assert!(
        server.log().contains("catalogue closed"),
        "{}",
        server.log()
    );
    drop(server);

    // A misspelt variable, and a misspelt key in the file, refuse to start.
    let refused = process::run(
        &[],
        &env(&[("XCORE_PLUGINS__CATALOGUE__PAGE_SIZ", "5".into())]),
        "",
    );
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{said}");
    assert!(
        said.contains("plugins.catalogue.page_siz") && said.contains("plugins.catalogue.page_size"),
        "{said}"
    );
    let file = dir.join("xcore.toml");
    std::fs::write(&file, "[plugins.catalogue]\npage_siz = 5\n").expect("xcore.toml");
    let refused = process::run(
        &[],
        &env(&[("XCORE_CONFIG", file.display().to_string())]),
        "",
    );
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{said}");
    assert!(
        said.contains("plugins.catalogue.page_siz: unknown key"),
        "{said}"
    );

    // An unknown section is named as written, without figment's profile.
    std::fs::write(&file, "[reservations]\nslots = 5\n").expect("xcore.toml");
    let refused = process::run(
        &[],
        &env(&[("XCORE_CONFIG", file.display().to_string())]),
        "",
    );
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{said}");
    assert!(
        said.contains("reservations") && !said.contains("default."),
        "{said}"
    );

    // `routes` lists a disabled plugin as such (its name with `_` in a variable).
    let routes = process::run(
        &["routes"],
        &env(&[("XCORE_PLUGINS__TABLEAU_DE_BORD__ENABLED", "false".into())]),
        "",
    );
    let table = String::from_utf8_lossy(&routes.stdout);
    assert!(
        routes.status.success(),
        "{}",
        String::from_utf8_lossy(&routes.stderr)
    );
    assert!(!table.contains("/tableau-de-bord/stats"), "{table}");
    assert!(
        table.contains("plugin `tableau-de-bord` is disabled"),
        "{table}"
    );

    // `check-config` prints the sections, credentials hidden, and their problems.
    let checked = process::run(
        &["check-config"],
        &env(&[("XCORE_PLUGINS__CATALOGUE__API_TOKEN", "s3cret-value".into())]),
        "",
    );
    let printed = String::from_utf8_lossy(&checked.stdout);
    assert!(!checked.status.success(), "{printed}");
    assert!(printed.contains("[plugins.catalogue]"), "{printed}");
    assert!(!printed.contains("s3cret-value"), "{printed}");
    assert!(
        printed.lines().any(|line| line.starts_with("# problem:")
            && line.contains("plugins.catalogue.api_token: unknown key")),
        "{printed}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// What the lifecycle plugins did, in order.
type Journal = Arc<std::sync::Mutex<Vec<String>>>;

/// A plugin that notes its start and stop, optionally failing to start.
struct Noted {
    meta: PluginMeta,
    journal: Journal,
    fails: bool,
}

impl Plugin for Noted {
    fn meta(&self) -> PluginMeta {
        self.meta.clone()
    }
    fn routes(self: Arc<Self>) -> Routes {
        Routes::new()
    }
    fn on_start(self: Arc<Self>, context: xcore::PluginContext) -> Option<xcore::Hook> {
        Some(Box::pin(async move {
            let name = context.plugin().to_owned();
            self.journal
                .lock()
                .expect("journal")
                .push(format!("start {name}"));
            if self.fails {
                return Err(xcore::Error::Setup("the warehouse is closed".into()));
            }
            Ok(())
        }))
    }
    fn on_stop(self: Arc<Self>, context: xcore::PluginContext) -> Option<xcore::Hook> {
        Some(Box::pin(async move {
            let name = context.plugin().to_owned();
            self.journal
                .lock()
                .expect("journal")
                .push(format!("stop {name}"));
            Ok(())
        }))
    }
}

fn noted(journal: &Journal, name: &'static str, depends_on: &[&'static str], fails: bool) -> Noted {
    Noted {
        meta: PluginMeta::new(name).depends_on(depends_on.iter().copied()),
        journal: Arc::clone(journal),
        fails,
    }
}

#[tokio::test]
async fn hooks_run_in_dependency_order_and_stop_in_reverse() {
    let journal = Journal::default();
    // Registered out of order: `rapports` needs `ventes`, which needs `stock`.
    let app = App::new(common::config())
        .expect("app")
        .plugin(noted(&journal, "rapports", &["ventes"], false))
        .plugin(noted(&journal, "ventes", &["stock"], false))
        .plugin(noted(&journal, "stock", &[], false));
    let client = TestClient::new(app).await.expect("app");
    assert_eq!(client.get("/ready").send().await.status(), 200);
    client.state().stop_plugins().await;
    client.state().stop_plugins().await;
    assert_eq!(
        *journal.lock().expect("journal"),
        [
            "start stock",
            "start ventes",
            "start rapports",
            "stop rapports",
            "stop ventes",
            "stop stock"
        ]
    );

    // A failing start hook stops those already started, in reverse.
    let journal = Journal::default();
    let app = App::new(common::config())
        .expect("app")
        .plugin(noted(&journal, "rapports", &["ventes"], false))
        .plugin(noted(&journal, "ventes", &["stock"], true))
        .plugin(noted(&journal, "stock", &[], false))
        .plugin(noted(&journal, "annexe", &[], false));
    let failed = match TestClient::new(app).await {
        Ok(_) => panic!("started"),
        Err(err) => err.to_string(),
    };
    assert!(
        failed.contains("plugin `ventes` failed to start")
            && failed.contains("the warehouse is closed"),
        "{failed}"
    );
    assert_eq!(
        *journal.lock().expect("journal"),
        ["start stock", "start ventes", "stop stock"]
    );
}

/// A plugin whose start hook takes `delay`, with an endless event stream.
#[derive(Default)]
struct Slow {
    delay: std::time::Duration,
}

#[plugin(name = "slow", prefix = "/slow")]
impl Slow {
    #[on_start]
    async fn warm(&self, db: Db) -> xcore::Result<()> {
        let _ = db;
        tokio::time::sleep(self.delay).await;
        Ok(())
    }

    /// An answer that takes a minute.
    #[route(get, "/slowly")]
    async fn slowly() -> &'static str {
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        "done"
    }

    #[route(get, "/events")]
    async fn events() -> xcore::axum::response::Response {
        use xcore::axum::response::IntoResponse;
        let stream = futures_util::stream::unfold((), |()| async {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            Some((Ok::<_, std::convert::Infallible>("data: tick\n\n"), ()))
        });
        (
            [("content-type", "text/event-stream")],
            xcore::axum::body::Body::from_stream(stream),
        )
            .into_response()
    }
}

#[tokio::test]
async fn ready_waits_for_the_start_hooks_and_shutdown_ends_open_streams() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let addr = listener.local_addr().expect("addr");
    let mut config = common::config();
    config.lifecycle.shutdown_timeout_secs = 1;
    let app = App::new(config).expect("app").plugin(Slow {
        delay: std::time::Duration::from_secs(2),
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve_until(listener, async {
        let _ = stopped.await;
    }));
    let status = |path: &'static str| async move {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer).await;
        answer.get(9..12).unwrap_or("").to_owned()
    };
    let began = std::time::Instant::now();
    let mut seen = Vec::new();
    while began.elapsed() < std::time::Duration::from_millis(3500) {
        seen.push((
            began.elapsed().as_millis(),
            status("/ready").await,
            status("/health").await,
        ));
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let early: Vec<_> = seen.iter().filter(|(at, _, _)| *at < 1500).collect();
    assert!(
        !early.is_empty() && early.iter().all(|(_, ready, _)| ready == "503"),
        "{seen:?}"
    );
    assert_eq!(
        seen.last().map(|(_, ready, _)| ready.as_str()),
        Some("200"),
        "{seen:?}"
    );
    assert!(
        seen.iter().all(|(_, _, health)| health == "200"),
        "{seen:?}"
    );

    // An event stream stays open and an answer is slow: the shutdown ends
    // both within the deadline (1 s here).
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"GET /slow/events HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut first = [0u8; 256];
    let read = stream.read(&mut first).await.expect("the stream began");
    let head = String::from_utf8_lossy(&first[..read]).to_string();
    assert!(
        head.starts_with("HTTP/1.1 200") && head.contains("text/event-stream"),
        "{head}"
    );
    // And an answer that takes a minute is in flight.
    let mut slow = tokio::net::TcpStream::connect(addr).await.expect("connect");
    slow.write_all(b"GET /slow/slowly HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let asked = std::time::Instant::now();
    let _ = stop.send(());
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), server)
        .await
        .expect("the server stopped within the deadline")
        .expect("task");
    assert!(ended.is_ok(), "{ended:?}");
    let mut answer = String::new();
    let _ = slow.read_to_string(&mut answer).await;
    assert!(!answer.contains("done"), "cut at the deadline: {answer}");
    assert!(
        asked.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        asked.elapsed()
    );
}
