//! Per-plugin migrations: plain SQL files, applied in order at start-up,
//! each in its own transaction, recorded per plugin in `xcore_migrations`.

use sha2::{Digest, Sha256};
use sqlx::{Acquire, AnyConnection, Connection, Executor};

use super::{Backend, Db};
use crate::error::Error;
use crate::security::hex;

/// One migration of a plugin, usually embedded by
/// `#[plugin(migrations = "migrations/items")]` from a file named
/// `NNNN_name.sql` (with optional `NNNN_name.sqlite.sql` /
/// `NNNN_name.postgres.sql` variants that take precedence on that database).
///
/// ```
/// use xcore::db::{Backend, Migration};
///
/// const CREATE: Migration = Migration::new(1, "create_items", "0001_create_items.sql")
///     .sql("CREATE TABLE items_items (id BIGINT PRIMARY KEY, nom TEXT NOT NULL)");
/// assert_eq!(CREATE.sql_for(Backend::Postgres), Some("CREATE TABLE items_items (id BIGINT PRIMARY KEY, nom TEXT NOT NULL)"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// Order of application (the file's leading number).
    pub version: i64,
    /// Name (the rest of the file name).
    pub name: &'static str,
    /// File name, for error messages.
    pub file: &'static str,
    /// SQL for every database.
    pub generic: Option<&'static str>,
    /// SQL for SQLite only.
    pub sqlite: Option<&'static str>,
    /// SQL for PostgreSQL only.
    pub postgres: Option<&'static str>,
}

impl Migration {
    /// A migration without SQL yet.
    pub const fn new(version: i64, name: &'static str, file: &'static str) -> Self {
        Migration {
            version,
            name,
            file,
            generic: None,
            sqlite: None,
            postgres: None,
        }
    }

    /// The SQL for both databases.
    pub const fn sql(mut self, sql: &'static str) -> Self {
        self.generic = Some(sql);
        self
    }

    /// The SQL for SQLite.
    pub const fn sqlite(mut self, sql: &'static str) -> Self {
        self.sqlite = Some(sql);
        self
    }

    /// The SQL for PostgreSQL.
    pub const fn postgres(mut self, sql: &'static str) -> Self {
        self.postgres = Some(sql);
        self
    }

    /// The SQL to run on `backend`.
    pub fn sql_for(&self, backend: Backend) -> Option<&'static str> {
        let specific = match backend {
            Backend::Sqlite => self.sqlite,
            Backend::Postgres => self.postgres,
        };
        specific.or(self.generic)
    }
}

const HISTORY: &str = "CREATE TABLE IF NOT EXISTS xcore_migrations (\
    plugin TEXT NOT NULL, \
    version BIGINT NOT NULL, \
    name TEXT NOT NULL, \
    checksum TEXT NOT NULL, \
    applied_at BIGINT NOT NULL, \
    PRIMARY KEY (plugin, version))";

/// Key of the PostgreSQL advisory lock that serialises start-ups of several
/// instances (arbitrary, fixed: "xcore" in ASCII).
const LOCK_KEY: i64 = 0x0078_636f_7265;

/// Applies the pending migrations of `plugin`; returns how many ran.
pub(crate) async fn apply(db: &Db, plugin: &str, migrations: &[Migration]) -> Result<usize, Error> {
    if migrations.is_empty() {
        return Ok(0);
    }
    let fail = |file: &str, err: &dyn std::fmt::Display| {
        Error::Setup(format!(
            "migration {file} of plugin `{plugin}` failed: {err}"
        ))
    };
    let mut conn = db
        .pool()
        .acquire()
        .await
        .map_err(|e| fail("(history)", &e))?;
    let conn: &mut AnyConnection = conn.acquire().await.map_err(|e| fail("(history)", &e))?;
    if db.backend() == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(LOCK_KEY)
            .execute(&mut *conn)
            .await
            .map_err(|e| fail("(lock)", &e))?;
    }
    let result = apply_locked(conn, db.backend(), plugin, migrations).await;
    if db.backend() == Backend::Postgres {
        // Released also when the connection closes; unlock to reuse it.
        let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(LOCK_KEY)
            .execute(&mut *conn)
            .await;
    }
    result
}

async fn apply_locked(
    conn: &mut AnyConnection,
    backend: Backend,
    plugin: &str,
    migrations: &[Migration],
) -> Result<usize, Error> {
    let fail = |file: &str, err: &dyn std::fmt::Display| {
        Error::Setup(format!(
            "migration {file} of plugin `{plugin}` failed: {err}"
        ))
    };
    conn.execute(HISTORY)
        .await
        .map_err(|e| fail("(history)", &e))?;
    let applied: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, checksum FROM xcore_migrations WHERE plugin = $1")
            .bind(plugin)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| fail("(history)", &e))?;

    let mut ordered: Vec<&Migration> = migrations.iter().collect();
    ordered.sort_by_key(|m| m.version);
    let mut ran = 0;
    for migration in ordered {
        let Some(sql) = migration.sql_for(backend) else {
            return Err(fail(migration.file, &format!("no SQL for {backend:?}")));
        };
        let checksum = hex(&Sha256::digest(sql.as_bytes()));
        if let Some((_, recorded)) = applied.iter().find(|(v, _)| *v == migration.version) {
            if *recorded != checksum {
                return Err(fail(
                    migration.file,
                    &"it was changed after being applied; add a new migration instead of editing this one",
                ));
            }
            continue;
        }
        let mut tx = Connection::begin(&mut *conn)
            .await
            .map_err(|e| fail(migration.file, &e))?;
        sqlx::raw_sql(sql)
            .execute(&mut *tx)
            .await
            .map_err(|e| fail(migration.file, &e))?;
        sqlx::query(
            "INSERT INTO xcore_migrations (plugin, version, name, checksum, applied_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(plugin)
        .bind(migration.version)
        .bind(migration.name)
        .bind(checksum)
        .bind(crate::clock::now())
        .execute(&mut *tx)
        .await
        .map_err(|e| fail(migration.file, &e))?;
        tx.commit().await.map_err(|e| fail(migration.file, &e))?;
        tracing::info!(plugin, file = migration.file, "migration applied");
        ran += 1;
    }
    Ok(ran)
}
