//! The real services the storage suites run against: SQLite always;
//! PostgreSQL and Redis when `XCORE_TEST_DATABASE_URL` / `XCORE_TEST_REDIS_URL`
//! are set (required when `XCORE_TEST_REQUIRE_SERVICES=1`, as in CI).
//! Each test gets a fresh database or key prefix, so tests run in parallel.

use xcore::config::Config;

fn required() -> bool {
    std::env::var("XCORE_TEST_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

fn service_url(variable: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if required() => panic!("{variable} is not set but XCORE_TEST_REQUIRE_SERVICES=1"),
        _ => {
            eprintln!("skipped: {variable} is not set");
            None
        }
    }
}

/// A database configuration of one kind.
pub struct TestDatabase {
    pub name: &'static str,
    pub url: String,
    _dir: Option<TempDir>,
}

impl TestDatabase {
    /// A pool on this database, as the app would open it.
    pub async fn connect(&self) -> xcore::db::Db {
        let config = xcore::config::Config::default().with_database_url(self.url.as_str());
        xcore::db::Db::connect(&config.database)
            .await
            .unwrap_or_else(|err| panic!("{}: {err}", self.name))
    }
}

/// A temporary folder removed on drop (for SQLite files).
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let path =
            std::env::temp_dir().join(format!("xcore-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// SQLite (a fresh file) and, when available, PostgreSQL (a fresh database).
pub async fn databases() -> Vec<TestDatabase> {
    let dir = TempDir::new();
    let mut all = vec![TestDatabase {
        name: "sqlite",
        url: format!("sqlite://{}/app.db", dir.0.display()),
        _dir: Some(dir),
    }];
    if let Some(admin_url) = service_url("XCORE_TEST_DATABASE_URL") {
        all.push(TestDatabase {
            name: "postgres",
            url: fresh_postgres_database(&admin_url).await,
            _dir: None,
        });
    }
    all
}

/// Creates an empty database next to the one `admin_url` names.
pub async fn fresh_postgres_database(admin_url: &str) -> String {
    use xcore::sqlx::Executor;
    let name = format!("xcore_test_{}", uuid::Uuid::new_v4().simple());
    let admin = xcore::sqlx::PgPool::connect(admin_url)
        .await
        .expect("connect to XCORE_TEST_DATABASE_URL");
    admin
        .execute(xcore::sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE {name}"
        )))
        .await
        .expect("create test database");
    admin.close().await;
    let (base, _) = admin_url
        .rsplit_once('/')
        .expect("database URL with a database name");
    format!("{base}/{name}")
}

/// A cache configuration of one kind.
pub struct TestCache {
    pub name: &'static str,
    pub url: Option<String>,
    pub prefix: String,
}

/// The in-process cache and, when available, Redis (with a fresh prefix).
pub fn caches() -> Vec<TestCache> {
    let prefix = format!("xcore-test-{}:", uuid::Uuid::new_v4().simple());
    let mut all = vec![TestCache {
        name: "memory",
        url: None,
        prefix: prefix.clone(),
    }];
    if let Some(url) = service_url("XCORE_TEST_REDIS_URL") {
        all.push(TestCache {
            name: "redis",
            url: Some(url),
            prefix,
        });
    }
    all
}

impl TestCache {
    /// `base` with this cache selected.
    pub fn apply(&self, base: Config) -> Config {
        let mut config = base.with_cache_url(self.url.as_deref());
        config.cache.prefix = self.prefix.clone();
        config
    }
}

/// A Redis user of the test's own (`ACL SETUSER`), so that the test can
/// kill its app's connections (`CLIENT KILL USER`), as a failover or an
/// operator would, without touching those of the tests running beside it.
pub struct OwnRedisUser {
    /// A connection as the default user, to inspect and change keys.
    pub admin: redis::aio::MultiplexedConnection,
    user: String,
}

impl OwnRedisUser {
    /// Points `cache` (a Redis one) at a new user of its own.
    pub async fn create(cache: &mut TestCache) -> Self {
        let url = cache.url.clone().expect("a Redis cache");
        let redis = redis::Client::open(url.as_str()).expect("client");
        let mut admin = redis
            .get_multiplexed_async_connection()
            .await
            .expect("admin connection");
        let user = format!("xcore-test-{}", uuid::Uuid::new_v4().simple());
        let _: () = redis::cmd("ACL")
            .arg("SETUSER")
            .arg(&user)
            .arg("on")
            .arg(">kill-test")
            .arg("~*")
            .arg("&*")
            .arg("+@all")
            .query_async(&mut admin)
            .await
            .expect("ACL SETUSER");
        let (scheme, rest) = url.split_once("://").expect("redis url");
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        cache.url = Some(format!("{scheme}://{user}:kill-test@{host}"));
        OwnRedisUser { admin, user }
    }

    /// Kills every connection of the app: how many there were.
    pub async fn kill_connections(&mut self) -> i64 {
        redis::cmd("CLIENT")
            .arg("KILL")
            .arg("USER")
            .arg(&self.user)
            .query_async(&mut self.admin)
            .await
            .expect("CLIENT KILL")
    }

    /// Removes the user.
    pub async fn remove(mut self) {
        let _: redis::RedisResult<i64> = redis::cmd("ACL")
            .arg("DELUSER")
            .arg(&self.user)
            .query_async(&mut self.admin)
            .await;
    }
}
