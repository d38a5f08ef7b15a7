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
        if backend == Backend::Sqlite
            && let Some(problem) = unreadable_column(&mut tx)
                .await
                .map_err(|e| fail(migration.file, &e))?
        {
            // Rolled back when `tx` drops: the database stays as it was.
            return Err(fail(migration.file, &problem));
        }
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

/// A column of the SQLite schema that no query could read back: SQLite
/// reports a column declared `BOOLEAN`, `DATE`, `TIME`, `DATETIME` or
/// `TIMESTAMP` with a type sqlx's `Any` driver does not convert, so every
/// query reading its table would fail at run time (a 500). Refused when the
/// migration runs instead, with what to declare.
async fn unreadable_column(conn: &mut AnyConnection) -> Result<Option<String>, sqlx::Error> {
    let found: Option<(String, String, String)> = sqlx::query_as(
        "SELECT m.name, p.name, p.type FROM sqlite_schema AS m \
         JOIN pragma_table_info(m.name) AS p \
         WHERE m.type = 'table' \
         AND lower(p.type) IN ('bool', 'boolean', 'date', 'time', 'datetime', 'timestamp') \
         LIMIT 1",
    )
    .fetch_optional(conn)
    .await?;
    Ok(found.map(|(table, column, declared)| {
        let instead = if declared.to_ascii_lowercase().starts_with("bool") {
            "declare it INTEGER (0 or 1) and read it as xcore::db::Flag"
        } else {
            "store times as BIGINT Unix seconds or as TEXT (RFC 3339)"
        };
        format!(
            "column {table}.{column} is declared {declared}, which sqlx's Any driver cannot \
             read on SQLite (every query on the table would fail): {instead}"
        )
    }))
}
