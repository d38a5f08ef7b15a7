//! Every column type the guide calls portable ("Portable SQL" in the
//! database chapter) written with a bound parameter and read back, on
//! SQLite and on PostgreSQL, through the same code; and what is not
//! portable refused when the migration runs rather than at the first query.

use crate::common;

use std::sync::Arc;

use common::services::{self, TestDatabase};
use xcore::db::{Db, Flag, Migration};
use xcore::prelude::*;
use xcore::testing::TestClient;
use xcore::{PluginMeta, Routes};

/// A plugin that only brings migrations.
struct Tables(&'static [Migration]);

impl Plugin for Tables {
    fn meta(&self) -> PluginMeta {
        PluginMeta::new("types")
    }
    fn routes(self: Arc<Self>) -> Routes {
        Routes::new()
    }
    fn migrations(&self) -> &'static [Migration] {
        self.0
    }
}

async fn client(
    database: &TestDatabase,
    migrations: &'static [Migration],
) -> Result<TestClient, xcore::Error> {
    let config = common::config().with_database_url(database.url.as_str());
    TestClient::new(App::new(config).expect("app").plugin(Tables(migrations))).await
}

/// The guide's list, one column each; bytes have a variant per database.
const PORTABLE: &[Migration] = &[Migration::new(1, "every_type", "0001_every_type.sql")
    .sqlite(
        "CREATE TABLE types_row (id BIGINT NOT NULL, small INTEGER, text TEXT, real DOUBLE PRECISION, \
         flag INTEGER, bytes BLOB)",
    )
    .postgres(
        "CREATE TABLE types_row (id BIGINT NOT NULL, small INTEGER, text TEXT, real DOUBLE PRECISION, \
         flag INTEGER, bytes BYTEA)",
    )];

type Row = (
    i64,
    Option<i32>,
    Option<String>,
    Option<f64>,
    Option<Flag>,
    Option<Vec<u8>>,
);

async fn round_trip(db: &Db, row: &Row) -> Row {
    xcore::sqlx::query(
        "INSERT INTO types_row (id, small, text, real, flag, bytes) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(row.0)
    .bind(row.1)
    .bind(row.2.clone())
    .bind(row.3)
    .bind(row.4)
    .bind(row.5.clone())
    .execute(db.pool())
    .await
    .expect("insert");
    xcore::sqlx::query_as("SELECT id, small, text, real, flag, bytes FROM types_row WHERE id = $1")
        .bind(row.0)
        .fetch_one(db.pool())
        .await
        .expect("read back")
}

#[tokio::test]
async fn every_portable_type_reads_back_on_every_database() {
    for database in services::databases().await {
        let client = client(&database, PORTABLE).await.expect(database.name);
        let db = client.db();
        let rows: [Row; 3] = [
            (
                i64::MAX,
                Some(i32::MIN),
                Some("héllo, 世界 🦀".into()),
                Some(-1.5e300),
                Some(Flag(true)),
                Some(vec![0, 1, 2, 255]),
            ),
            (
                -7,
                Some(42),
                Some(String::new()),
                Some(0.1),
                Some(Flag(false)),
                Some(Vec::new()),
            ),
            (0, None, None, None, None, None),
        ];
        for row in &rows {
            assert_eq!(&round_trip(db, row).await, row, "{}", database.name);
        }

        // What a WHERE on a flag compares with, and the same column as i64.
        let (count,): (i64,) =
            xcore::sqlx::query_as("SELECT COUNT(*) FROM types_row WHERE flag = $1")
                .bind(Flag(true))
                .fetch_one(db.pool())
                .await
                .expect(database.name);
        assert_eq!(count, 1, "{}", database.name);
        let (raw,): (i64,) = xcore::sqlx::query_as("SELECT flag FROM types_row WHERE id = $1")
            .bind(i64::MAX)
            .fetch_one(db.pool())
            .await
            .expect(database.name);
        assert_eq!(raw, 1, "{}", database.name);
        db.close().await;
    }
}

#[tokio::test]
async fn a_flag_reads_a_postgres_boolean_and_refuses_other_integers() {
    for database in services::databases().await {
        let db = database.connect().await;
        if database.name == "postgres" {
            let (flag,): (Flag,) = xcore::sqlx::query_as("SELECT TRUE")
                .fetch_one(db.pool())
                .await
                .expect("a BOOLEAN reads as a Flag");
            assert_eq!(flag, Flag(true));
        }
        let err = xcore::sqlx::query_as::<_, (Flag,)>("SELECT 2")
            .fetch_one(db.pool())
            .await
            .expect_err("2 is no flag");
        assert!(
            err.to_string().contains("0 or 1"),
            "{}: {err}",
            database.name
        );
        db.close().await;
    }
}

#[tokio::test]
async fn a_sqlite_column_no_query_could_read_is_refused_by_its_migration() {
    const BOOLEAN: &[Migration] = &[Migration::new(1, "loans", "0001_loans.sql")
        .sql("CREATE TABLE types_loans (id BIGINT PRIMARY KEY, returned BOOLEAN NOT NULL)")];
    const DATE: &[Migration] = &[Migration::new(1, "loans", "0001_loans.sql")
        .sql("CREATE TABLE types_loans (id BIGINT PRIMARY KEY, due TIMESTAMP)")];
    for (migrations, column, advice) in [
        (
            BOOLEAN,
            "types_loans.returned is declared BOOLEAN",
            "xcore::db::Flag",
        ),
        (
            DATE,
            "types_loans.due is declared TIMESTAMP",
            "BIGINT Unix seconds",
        ),
    ] {
        for database in services::databases().await {
            let started = client(&database, migrations).await;
            if database.name == "postgres" {
                // The check is SQLite's: a PostgreSQL BOOLEAN reads as a
                // bool (or a Flag), and the migration runs.
                if migrations == BOOLEAN {
                    started.expect("postgres").db().close().await;
                }
                continue;
            }
            let err = match started {
                Err(err) => err.to_string(),
                Ok(_) => panic!("a BOOLEAN or TIMESTAMP column must be refused on SQLite"),
            };
            assert!(err.contains("0001_loans.sql"), "{err}");
            assert!(err.contains(column), "{err}");
            assert!(err.contains(advice), "{err}");
            // Rolled back: the next start-up refuses it again, not "edited".
            let again = client(&database, migrations)
                .await
                .err()
                .expect("refused again")
                .to_string();
            assert!(again.contains(column), "{again}");
        }
    }
}
