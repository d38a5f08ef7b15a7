//! The SQL database: a pooled sqlx connection to SQLite (the embedded
//! default) or PostgreSQL, chosen at start-up by URL, and per-plugin
//! migrations.
//!
//! Handlers take a [`Db`]; queries go through sqlx's `Any` driver, so the same
//! code runs on both databases. The portable subset:
//!
//! * placeholders are `$1`, `$2`, ... (both databases accept them);
//! * column types `BIGINT` and `INTEGER`, `TEXT`, `DOUBLE PRECISION` map to
//!   Rust `i64` (or `i32`), `String`, `f64`; a yes/no is an `INTEGER` read as
//!   [`Flag`]; bytes are `BLOB` on SQLite and `BYTEA` on PostgreSQL (a
//!   variant per database), read as `Vec<u8>`; store times as `BIGINT` Unix
//!   seconds or `TEXT` RFC 3339. A SQLite migration declaring `BOOLEAN` or a
//!   date type is refused: sqlx's `Any` driver could not read the column;
//! * `INSERT ... RETURNING id` works on both;
//! * auto-generated ids differ (`INTEGER PRIMARY KEY` vs `GENERATED ... AS
//!   IDENTITY`): give such a migration a `.sqlite.sql` and a `.postgres.sql`
//!   variant (see [`Migration`]).
//!
//! ```
//! use xcore::prelude::*;
//! use xcore::db::Db;
//!
//! async fn count_items(db: Db) -> xcore::Result<String> {
//!     let (count,): (i64,) = xcore::sqlx::query_as("SELECT COUNT(*) FROM items_items")
//!         .fetch_one(db.pool())
//!         .await?;
//!     Ok(count.to_string())
//! }
//! ```

mod flag;
mod migrate;

use std::ops::Deref;
use std::path::Path;
use std::time::{Duration, Instant};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

pub use flag::Flag;
pub use migrate::Migration;
pub(crate) use migrate::apply as apply_migrations;

use crate::config::DatabaseConfig;
use crate::error::Error;

/// Which database the URL selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite (a file, or memory).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// The application's database pool; also the handler extractor.
///
/// Cloning is cheap (the pool is reference-counted). Outside handlers, get
/// it from [`Db::connect`] or from the app's state (`TestClient::db`).
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

impl Db {
    /// A pool on the configured database that connects only when first
    /// used, creates nothing and, on SQLite, opens the file read-only:
    /// what `check-config` probes with. A SQLite file that does not exist
    /// yet (the first start creates it) is stood in for by an empty
    /// in-memory database.
    pub(crate) fn lazy_read_only(config: &DatabaseConfig) -> Result<Self, Error> {
        install_default_drivers();
        let raw = config.url.expose();
        let (url, backend) = match crate::config::sqlite_file(raw) {
            Some(file) if !Path::new(file).exists() => {
                ("sqlite::memory:".to_owned(), Backend::Sqlite)
            }
            Some(_) if !raw.contains("mode=") => {
                let separator = if raw.contains('?') { '&' } else { '?' };
                (format!("{raw}{separator}mode=ro"), Backend::Sqlite)
            }
            _ => (raw.to_owned(), backend_of(raw)?),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(config.acquire_timeout_secs.max(1)))
            .connect_lazy(&url)
            .map_err(|err| Error::Config(format!("database.url {}: {err}", config.url)))?;
        Ok(Db { pool, backend })
    }

    /// Connects with the configuration, retrying with backoff for
    /// `connect_retry_secs` while the database is unreachable.
    ///
    /// A SQLite file (and its folder) is created if missing.
    pub async fn connect(config: &DatabaseConfig) -> Result<Self, Error> {
        install_default_drivers();
        let raw = config.url.expose();
        let (url, backend) = normalize(raw)?;
        let memory = backend == Backend::Sqlite && url.contains("mode=memory");
        let options = AnyPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            // An in-memory SQLite database lives as long as one connection does.
            .min_connections(u32::from(memory))
            .idle_timeout((!memory).then_some(Duration::from_secs(600)))
            .acquire_timeout(Duration::from_secs(config.acquire_timeout_secs.max(1)))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers and one writer work at once;
                        // foreign keys are off by default in SQLite.
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        if !memory {
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                        }
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                    }
                    Ok(())
                })
            });

        let retry_for = Duration::from_secs(config.connect_retry_secs);
        let started = Instant::now();
        let mut delay = Duration::from_millis(100);
        let mut attempt = 1u32;
        loop {
            match options.clone().connect(&url).await {
                Ok(pool) => {
                    tracing::info!(database = %config.url, "database connected");
                    return Ok(Db { pool, backend });
                }
                Err(err) if is_unavailable(&err) && started.elapsed() + delay < retry_for => {
                    tracing::warn!(
                        database = %config.url,
                        attempt,
                        error = %err,
                        "database unreachable; retrying in {} ms",
                        delay.as_millis()
                    );
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                    attempt += 1;
                }
                Err(err) => {
                    return Err(Error::Setup(format!(
                        "cannot connect to the database {} (tried for {} s): {err}",
                        config.url,
                        started.elapsed().as_secs()
                    )));
                }
            }
        }
    }

    /// The sqlx pool, for `query(...).fetch_all(db.pool())`.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begins a transaction that will write. On SQLite it takes the write
    /// lock at once (`BEGIN IMMEDIATE`), waiting for it up to the busy
    /// timeout: a plain `BEGIN` that has read cannot wait for the lock when
    /// another connection wrote meanwhile, and SQLite refuses its first
    /// write at once with "database is locked". On PostgreSQL, `BEGIN`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> xcore::Result<()> {
    /// # let client = xcore::testing::TestClient::new(xcore::App::new(xcore::testing::config())?).await?;
    /// # let db = client.db();
    /// # xcore::sqlx::raw_sql("CREATE TABLE stock (item TEXT PRIMARY KEY, left_ BIGINT NOT NULL); INSERT INTO stock VALUES ('pen', 3)").execute(db.pool()).await?;
    /// let mut tx = db.begin_write().await?;
    /// let (left,): (i64,) = xcore::sqlx::query_as("SELECT left_ FROM stock WHERE item = $1")
    ///     .bind("pen")
    ///     .fetch_one(&mut *tx)
    ///     .await?;
    /// xcore::sqlx::query("UPDATE stock SET left_ = $1 WHERE item = $2")
    ///     .bind(left - 1)
    ///     .bind("pen")
    ///     .execute(&mut *tx)
    ///     .await?;
    /// tx.commit().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A pool that connects on first use, to an empty in-memory database.
    #[cfg(test)]
    pub(crate) fn lazy_for_tests() -> Self {
        install_default_drivers();
        let pool = AnyPoolOptions::new()
            .connect_lazy("sqlite::memory:")
            .unwrap_or_else(|err| panic!("lazy pool: {err}"));
        Db {
            pool,
            backend: Backend::Sqlite,
        }
    }

    /// Closes every connection (for tests that restart an app on the same file).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl Deref for Db {
    type Target = AnyPool;

    fn deref(&self) -> &AnyPool {
        &self.pool
    }
}

/// Maps a unique-constraint violation to a 409 with the handler's message;
/// other errors convert as usual (a lost database is a 503, anything else a
/// logged 500 whose details stay out of the response).
///
/// ```
/// use xcore::prelude::*;
/// use xcore::db::{Db, UniqueViolationExt};
///
/// async fn register(db: Db, Json(email): Json<String>) -> xcore::Result<StatusCode> {
///     xcore::sqlx::query("INSERT INTO users_users (email) VALUES ($1)")
///         .bind(email)
///         .execute(db.pool())
///         .await
///         .conflict_on_unique("this e-mail is already registered")?;
///     Ok(StatusCode::CREATED)
/// }
/// ```
pub trait UniqueViolationExt<T> {
    /// `Err(Error::Conflict(message))` for a unique violation.
    fn conflict_on_unique(self, message: impl Into<String>) -> Result<T, Error>;
}

impl<T> UniqueViolationExt<T> for Result<T, sqlx::Error> {
    fn conflict_on_unique(self, message: impl Into<String>) -> Result<T, Error> {
        self.map_err(|err| match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Error::Conflict(message.into())
            }
            _ => Error::from(err),
        })
    }
}

/// A database error in a handler: a lost database is a 503 (retry later),
/// a missing row a 404; anything else is logged and answered with a generic
/// 500, never with the database's own message.
impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::RowNotFound => Error::NotFound("not found".into()),
            err if is_unavailable(&err) => {
                tracing::warn!(error = %err, "database unavailable");
                Error::Unavailable("database unavailable".into())
            }
            err => Error::Internal(Box::new(err)),
        }
    }
}

/// Whether an error means "the database cannot be reached right now".
pub(crate) fn is_unavailable(err: &sqlx::Error) -> bool {
    matches!(
        err,
        sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
    )
}

/// The backend a URL names, or a configuration error.
fn backend_of(url: &str) -> Result<Backend, Error> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else {
        Err(Error::Config(format!(
            "database.url must start with sqlite: or postgres:// (got {})",
            crate::config::RedactedUrl::from(url)
        )))
    }
}

/// Adds `mode=rwc` to SQLite URLs (create the file) and creates the folder.
fn normalize(url: &str) -> Result<(String, Backend), Error> {
    if backend_of(url)? == Backend::Postgres {
        return Ok((url.to_owned(), Backend::Postgres));
    }
    let rest = url.strip_prefix("sqlite:").unwrap_or(url);
    if url.contains("mode=") || rest.starts_with(":memory:") {
        return Ok((url.to_owned(), Backend::Sqlite));
    }
    let file = crate::config::sqlite_file(url).unwrap_or_default();
    if let Some(parent) = Path::new(file)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(|err| {
            Error::Setup(format!(
                "cannot create the folder of the SQLite database {file}: {err}"
            ))
        })?;
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    Ok((format!("{url}{separator}mode=rwc"), Backend::Sqlite))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_create_the_file() {
        assert_eq!(
            normalize("sqlite://data.db").expect("ok"),
            ("sqlite://data.db?mode=rwc".to_owned(), Backend::Sqlite)
        );
        assert_eq!(
            normalize("sqlite://data.db?mode=ro").expect("ok").0,
            "sqlite://data.db?mode=ro"
        );
        assert_eq!(
            normalize("postgres://u:p@h/db").expect("ok").1,
            Backend::Postgres
        );
        let err = normalize("mysql://root:pw@h/db").expect_err("unsupported");
        assert!(!err.to_string().contains("pw"));
    }
}
