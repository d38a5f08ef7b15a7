//! The database service on every backend: SQLite (a file) and PostgreSQL
//! (a fresh database), through the same plugin code and SQL.

use crate::common;

use std::sync::Arc;

use common::services::{self, TestDatabase};
use xcore::db::{Backend, Db, Migration, UniqueViolationExt};
use xcore::prelude::*;
use xcore::testing::TestClient;
use xcore::{PluginMeta, RouteInfo, Routes};

/// A note-taking plugin with migrations written by hand (the `#[plugin]`
/// folder form is exercised by the seed tour).
struct Notes {
    migrations: &'static [Migration],
}

const NOTES_V1: &[Migration] = &[
    Migration::new(1, "create_notes", "0001_create_notes.sql")
        .sqlite("CREATE TABLE notes_notes (id INTEGER PRIMARY KEY AUTOINCREMENT, texte TEXT NOT NULL UNIQUE)")
        .postgres("CREATE TABLE notes_notes (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, texte TEXT NOT NULL UNIQUE)"),
    Migration::new(2, "add_auteur", "0002_add_auteur.sql").sql("ALTER TABLE notes_notes ADD COLUMN auteur TEXT"),
];

async fn create_note(db: Db, Json(texte): Json<String>) -> xcore::Result<(StatusCode, Json<i64>)> {
    let (id,): (i64,) =
        xcore::sqlx::query_as("INSERT INTO notes_notes (texte) VALUES ($1) RETURNING id")
            .bind(texte)
            .fetch_one(db.pool())
            .await
            .conflict_on_unique("this note already exists")?;
    Ok((StatusCode::CREATED, Json(id)))
}

async fn list_notes(db: Db) -> xcore::Result<Json<Vec<(i64, String)>>> {
    Ok(Json(
        xcore::sqlx::query_as(
            "SELECT id, texte FROM notes_notes WHERE id >= $1 AND texte <> $2 ORDER BY id",
        )
        .bind(0_i64)
        .bind("")
        .fetch_all(db.pool())
        .await?,
    ))
}

async fn broken_query(db: Db) -> xcore::Result<()> {
    xcore::sqlx::query("SELECT no_such_column FROM notes_notes")
        .execute(db.pool())
        .await?;
    Ok(())
}

impl Plugin for Notes {
    fn meta(&self) -> PluginMeta {
        PluginMeta::new("notes")
    }
    fn routes(self: Arc<Self>) -> Routes {
        Routes::new()
            .route(RouteInfo::post("/"), create_note)
            .route(RouteInfo::get("/"), list_notes)
            .route(RouteInfo::get("/broken"), broken_query)
    }
    fn migrations(&self) -> &'static [Migration] {
        self.migrations
    }
}

/// A second plugin whose version numbers overlap with `Notes`'.
struct Tags;

const TAGS: &[Migration] = &[Migration::new(1, "create_tags", "0001_create_tags.sql")
    .sql("CREATE TABLE tags_tags (nom TEXT PRIMARY KEY)")];

impl Plugin for Tags {
    fn meta(&self) -> PluginMeta {
        PluginMeta::new("tags")
    }
    fn routes(self: Arc<Self>) -> Routes {
        Routes::new()
    }
    fn migrations(&self) -> &'static [Migration] {
        TAGS
    }
}

fn app(database: &TestDatabase, notes: &'static [Migration]) -> App {
    App::new(common::config().with_database_url(database.url.as_str()))
        .expect("app")
        .plugin(Notes { migrations: notes })
        .plugin(Tags)
}

async fn history(db: &Db, plugin: &str) -> Vec<i64> {
    xcore::sqlx::query_as::<_, (i64,)>(
        "SELECT version FROM xcore_migrations WHERE plugin = $1 ORDER BY version",
    )
    .bind(plugin)
    .fetch_all(db.pool())
    .await
    .expect("history")
    .into_iter()
    .map(|(v,)| v)
    .collect()
}

async fn table_exists(db: &Db, table: &str) -> bool {
    let sql = match db.backend() {
        Backend::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
        Backend::Postgres => "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = $1",
    };
    let (count,): (i64,) = xcore::sqlx::query_as(sql)
        .bind(table)
        .fetch_one(db.pool())
        .await
        .expect("catalog");
    count > 0
}

#[tokio::test]
async fn migrations_apply_in_order_with_a_history_per_plugin() {
    for database in services::databases().await {
        let client = TestClient::new(app(&database, NOTES_V1))
            .await
            .expect(database.name);
        assert_eq!(
            history(client.db(), "notes").await,
            [1, 2],
            "{}",
            database.name
        );
        assert_eq!(history(client.db(), "tags").await, [1], "{}", database.name);
        assert!(table_exists(client.db(), "tags_tags").await);
        // Column added by migration 2.
        xcore::sqlx::query("UPDATE notes_notes SET auteur = $1")
            .bind("ada")
            .execute(client.db().pool())
            .await
            .expect(database.name);
    }
}

#[tokio::test]
async fn same_code_and_sql_serve_requests_on_every_backend() {
    for database in services::databases().await {
        let client = TestClient::new(app(&database, NOTES_V1))
            .await
            .expect(database.name);
        let created = client.post("/notes/").json("acheter du pain").send().await;
        assert_eq!(created.status(), 201, "{}", database.name);
        assert_eq!(
            client
                .post("/notes/")
                .json("appeler Ada")
                .send()
                .await
                .status(),
            201
        );
        let listed: Vec<(i64, String)> = client.get("/notes/").send().await.json();
        assert_eq!(
            listed.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>(),
            ["acheter du pain", "appeler Ada"],
            "{}",
            database.name
        );
    }
}

#[tokio::test]
async fn unique_violation_is_a_409_without_database_details() {
    for database in services::databases().await {
        let client = TestClient::new(app(&database, NOTES_V1))
            .await
            .expect(database.name);
        assert_eq!(
            client.post("/notes/").json("unique").send().await.status(),
            201
        );
        let duplicate = client.post("/notes/").json("unique").send().await;
        assert_eq!(duplicate.status(), 409, "{}", database.name);
        assert_eq!(
            duplicate.json::<serde_json::Value>()["error"]["message"],
            "this note already exists"
        );
    }
}

#[tokio::test]
async fn database_errors_are_generic_500s() {
    for database in services::databases().await {
        let client = TestClient::new(app(&database, NOTES_V1))
            .await
            .expect(database.name);
        let response = client.get("/notes/broken").send().await;
        assert_eq!(response.status(), 500, "{}", database.name);
        assert!(
            !response.text().contains("no_such_column"),
            "{}",
            response.text()
        );
    }
}

#[tokio::test]
async fn restart_keeps_the_data_and_does_not_reapply_migrations() {
    for database in services::databases().await {
        {
            let client = TestClient::new(app(&database, NOTES_V1))
                .await
                .expect(database.name);
            assert_eq!(
                client
                    .post("/notes/")
                    .json("persistante")
                    .send()
                    .await
                    .status(),
                201
            );
            client.db().close().await;
        }
        // A second start on the same database: migration 1 (a plain CREATE
        // TABLE) would fail if it ran again.
        let client = TestClient::new(app(&database, NOTES_V1))
            .await
            .expect(database.name);
        let listed: Vec<(i64, String)> = client.get("/notes/").send().await.json();
        assert_eq!(listed.len(), 1, "{}", database.name);
        assert_eq!(listed[0].1, "persistante");
        assert_eq!(history(client.db(), "notes").await, [1, 2]);
    }
}

#[tokio::test]
async fn a_failed_migration_stops_start_up_and_leaves_the_database_as_it_was() {
    const BROKEN: &[Migration] = &[
        NOTES_V1[0],
        NOTES_V1[1],
        Migration::new(3, "half_done", "0003_half_done.sql").sql(
            "CREATE TABLE notes_half (id BIGINT); INSERT INTO notes_missing_table VALUES (1);",
        ),
    ];
    for database in services::databases().await {
        let err = match TestClient::new(app(&database, BROKEN)).await {
            Err(err) => err.to_string(),
            Ok(_) => panic!("{}: start-up must fail", database.name),
        };
        assert!(err.contains("plugin `notes`"), "{err}");
        assert!(err.contains("0003_half_done.sql"), "{err}");
        assert!(
            err.contains("notes_missing_table"),
            "{}: {err}",
            database.name
        );

        let db = database.connect().await;
        assert!(
            !table_exists(&db, "notes_half").await,
            "{}: rolled back",
            database.name
        );
        assert_eq!(history(&db, "notes").await, [1, 2], "{}", database.name);
        db.close().await;
    }
}

#[tokio::test]
async fn an_edited_migration_is_refused() {
    const EDITED: &[Migration] = &[Migration::new(1, "create_notes", "0001_create_notes.sql")
        .sql("CREATE TABLE notes_notes (id BIGINT PRIMARY KEY, texte TEXT, extra TEXT)")];
    for database in services::databases().await {
        TestClient::new(app(&database, NOTES_V1))
            .await
            .expect(database.name)
            .db()
            .close()
            .await;
        let err = match TestClient::new(app(&database, EDITED)).await {
            Err(err) => err.to_string(),
            Ok(_) => panic!("{}: an edited migration must be refused", database.name),
        };
        assert!(err.contains("changed after being applied"), "{err}");
    }
}

#[tokio::test]
async fn an_unreachable_database_is_retried_then_reported_clearly() {
    let mut config =
        common::config().with_database_url("postgres://app:hunter2@127.0.0.1:1/nothing");
    config.database.connect_retry_secs = 1;
    let started = std::time::Instant::now();
    let err = Db::connect(&config.database)
        .await
        .expect_err("nothing listens on port 1");
    let message = err.to_string();
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(500),
        "retried for a while"
    );
    assert!(
        message.contains("cannot connect to the database"),
        "{message}"
    );
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(
        !message.contains("hunter2"),
        "the password must not be echoed: {message}"
    );
}

#[tokio::test]
async fn a_lost_database_is_a_503_and_the_pool_recovers() {
    let Some(admin_url) = std::env::var("XCORE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("skipped: XCORE_TEST_DATABASE_URL is not set");
        assert!(
            std::env::var("XCORE_TEST_REQUIRE_SERVICES").is_err(),
            "PostgreSQL required"
        );
        return;
    };
    let url = services::fresh_postgres_database(&admin_url).await;
    let database_name = url.rsplit('/').next().expect("name").to_owned();
    let mut config = common::config().with_database_url(url.as_str());
    config.database.max_connections = 2;
    let client = TestClient::new(App::new(config).expect("app").plugin(Notes {
        migrations: NOTES_V1,
    }))
    .await
    .expect("app");
    assert_eq!(client.get("/notes/").send().await.status(), 200);

    // Cut every connection of the app, as a database restart would.
    let admin = xcore::sqlx::PgPool::connect(&admin_url)
        .await
        .expect("admin");
    xcore::sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&database_name)
        .execute(&admin)
        .await
        .expect("terminate");
    admin.close().await;

    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(client.get("/notes/").send().await.status().as_u16());
    }
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "{statuses:?}"
    );
    assert_eq!(
        statuses.last(),
        Some(&200),
        "the pool reconnects by itself: {statuses:?}"
    );
}

#[tokio::test]
async fn requests_get_a_json_503_while_the_database_is_gone() {
    for database in services::databases().await {
        let client = TestClient::new(app(&database, NOTES_V1))
            .await
            .expect(database.name);
        client.db().close().await;
        let response = client.get("/notes/").send().await;
        assert_eq!(response.status(), 503, "{}", database.name);
        assert_eq!(common::error_code(&response), "service_unavailable");
        assert_eq!(
            client.get("/health").send().await.status(),
            200,
            "liveness is not readiness"
        );
    }
}

/// Read-then-write transactions at once, on every backend: each sees the
/// value the previous one wrote, none is refused. On SQLite a plain `BEGIN`
/// that has read cannot wait for the write lock ("database is locked" at
/// once, the CI failure of `admin_api_manages_roles_permissions_and_assignments`);
/// `Db::begin_write` takes it first.
#[tokio::test]
async fn fifty_read_then_write_transactions_at_once_all_commit() {
    for database in services::databases().await {
        let db = database.connect().await;
        xcore::sqlx::raw_sql(
            "CREATE TABLE notes_counter (id BIGINT PRIMARY KEY, n BIGINT NOT NULL); \
             INSERT INTO notes_counter VALUES (1, 0);",
        )
        .execute(db.pool())
        .await
        .expect(database.name);
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move {
                    let mut tx = db.begin_write().await?;
                    let (n,): (i64,) =
                        xcore::sqlx::query_as("SELECT n FROM notes_counter WHERE id = 1")
                            .fetch_one(&mut *tx)
                            .await?;
                    tokio::task::yield_now().await;
                    xcore::sqlx::query("UPDATE notes_counter SET n = $1 WHERE id = 1")
                        .bind(n + 1)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task").expect(database.name);
        }
        let (n,): (i64,) = xcore::sqlx::query_as("SELECT n FROM notes_counter WHERE id = 1")
            .fetch_one(db.pool())
            .await
            .expect(database.name);
        // PostgreSQL's READ COMMITTED lets two of them read the same value
        // (a lost update: there, SELECT ... FOR UPDATE is the tool); SQLite's
        // write lock serialises them whole.
        if database.name == "sqlite" {
            assert_eq!(n, 50, "sqlite");
        } else {
            assert!((1..=50).contains(&n), "postgres: {n}");
        }
        db.close().await;
    }
}
