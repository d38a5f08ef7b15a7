//! The accounts tables, as migrations: applied at start-up even when the
//! `/auth` endpoints are off, since guards read them.

use crate::db::Migration;

/// The accounts tables, in the migration history under the name `auth`
/// (the name they were first applied under).
pub(crate) const MIGRATIONS_NAME: &str = "auth";

/// The accounts tables: applied at start-up even when the `/auth`
/// endpoints are off, since guards read them.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration::new(1, "users", "0001_users.sql")
        .sqlite(include_str!("../../migrations/auth/0001_users.sqlite.sql"))
        .postgres(include_str!(
            "../../migrations/auth/0001_users.postgres.sql"
        )),
    Migration::new(2, "access", "0002_access.sql")
        .sql(include_str!("../../migrations/auth/0002_access.sql")),
    Migration::new(3, "totp", "0003_totp.sql")
        .sql(include_str!("../../migrations/auth/0003_totp.sql")),
    Migration::new(4, "sessions_not_before", "0004_sessions_not_before.sql").sql(include_str!(
        "../../migrations/auth/0004_sessions_not_before.sql"
    )),
    Migration::new(5, "audit", "0005_audit.sql")
        .sqlite(include_str!("../../migrations/auth/0005_audit.sqlite.sql"))
        .postgres(include_str!(
            "../../migrations/auth/0005_audit.postgres.sql"
        )),
    Migration::new(6, "account_links", "0006_account_links.sql")
        .sql(include_str!("../../migrations/auth/0006_account_links.sql")),
    Migration::new(7, "recovery_codes", "0007_recovery_codes.sql").sql(include_str!(
        "../../migrations/auth/0007_recovery_codes.sql"
    )),
    Migration::new(8, "api_keys", "0008_api_keys.sql")
        .sql(include_str!("../../migrations/auth/0008_api_keys.sql")),
    Migration::new(9, "api_key_last_use", "0009_api_key_last_use.sql").sql(include_str!(
        "../../migrations/auth/0009_api_key_last_use.sql"
    )),
];
