//! The application secret: configured, under its former name, or — in
//! development only — generated and kept beside the database.

use std::path::{Path, PathBuf};

use super::{Config, Environment, MIN_APP_SECRET_LEN};
use crate::error::Error;
use crate::security::Secret;

impl Config {
    /// The application secret and where it came from: `app_secret`, its
    /// deprecated former name `auth.jwt_secret`, or — in development only —
    /// a random one kept in a file beside the database. Refused when shorter than [`MIN_APP_SECRET_LEN`].
    pub(crate) fn resolved_secret(&self) -> Result<(Secret, SecretSource), Error> {
        let (secret, source) = match (&self.app_secret, &self.auth.jwt_secret, self.env) {
            (Some(secret), _, _) => (secret.clone(), SecretSource::Configured),
            (None, Some(secret), _) => (secret.clone(), SecretSource::DeprecatedName),
            (None, None, Environment::Production) => {
                return Err(Error::Config(
                    "no app secret configured: in production set XCORE_APP_SECRET \
                     (or app_secret in xcore.toml; its former name XCORE_AUTH_JWT_SECRET is \
                     still read) to a random value of at least 32 bytes"
                        .into(),
                ));
            }
            (None, None, Environment::Development) => {
                match dev_secret_path(self.database.url.expose()) {
                    Some(path) => (
                        crate::security::load_or_create_dev_secret(&path)?,
                        SecretSource::Kept(path),
                    ),
                    None => {
                        let bytes: [u8; 32] = rand::random();
                        (Secret::new(bytes.to_vec()), SecretSource::Generated)
                    }
                }
            }
        };
        if secret.len() < MIN_APP_SECRET_LEN {
            return Err(Error::Config(format!(
                "the app secret must be at least {MIN_APP_SECRET_LEN} bytes long (it has {})",
                secret.len()
            )));
        }
        Ok((secret, source))
    }
}

/// Where the application secret came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecretSource {
    /// `app_secret` / `XCORE_APP_SECRET`.
    Configured,
    /// `auth.jwt_secret` / `XCORE_AUTH_JWT_SECRET`, the former name.
    DeprecatedName,
    /// None configured, in development: random, written once to this file
    /// and read back at every start.
    Kept(PathBuf),
    /// None configured, in development with an in-memory database: random,
    /// lost at exit like the data.
    Generated,
}

/// The file of a `sqlite:` URL, or `None` for PostgreSQL and in-memory
/// databases.
pub(crate) fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite:")?;
    let path = rest.trim_start_matches("//");
    let file = path.split('?').next().unwrap_or(path);
    (!file.is_empty() && !file.starts_with(":memory:") && !url.contains("mode=memory"))
        .then_some(file)
}

/// Where the development secret of a database lives: beside a SQLite file
/// (`app.db` → `app.db-secret`, matched by the `*.db-*` pattern most
/// `.gitignore` files have for SQLite's journals), else `.xcore/app-secret`
/// in the working directory. `None` for an in-memory database, whose data
/// dies with the process anyway.
fn dev_secret_path(database_url: &str) -> Option<PathBuf> {
    if database_url.starts_with("sqlite:") {
        let file = sqlite_file(database_url)?;
        return Some(PathBuf::from(format!("{file}-secret")));
    }
    Some(Path::new(".xcore").join("app-secret"))
}

#[cfg(test)]
// figment's Jail API returns its own (large) error type; it is test-only.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use crate::config::jail;

    #[test]
    fn the_file_is_beside_a_sqlite_database_and_nowhere_for_memory() {
        assert_eq!(
            dev_secret_path("sqlite://data/app.db?mode=rwc"),
            Some(PathBuf::from("data/app.db-secret"))
        );
        assert_eq!(dev_secret_path("sqlite::memory:"), None);
        assert_eq!(
            dev_secret_path("postgres://db/app"),
            Some(PathBuf::from(".xcore/app-secret"))
        );
    }

    #[test]
    fn production_without_secret_refuses_with_a_clear_message() {
        let config = Config::default().with_env(Environment::Production);
        let err = config.resolved_secret().expect_err("must refuse");
        assert!(err.to_string().contains("XCORE_AUTH_JWT_SECRET"), "{err}");
        assert!(err.to_string().contains("XCORE_APP_SECRET"), "{err}");
    }

    #[test]
    fn development_without_secret_generates_one_and_says_so() {
        let (_, source) = Config::default()
            .with_database_url("sqlite::memory:")
            .resolved_secret()
            .expect("secret");
        assert_eq!(source, SecretSource::Generated);
        let file =
            std::env::temp_dir().join(format!("xcore-kept-{}.db", uuid::Uuid::new_v4().simple()));
        let config = Config::default().with_database_url(format!("sqlite://{}", file.display()));
        let (first, source) = config.resolved_secret().expect("secret");
        let kept = PathBuf::from(format!("{}-secret", file.display()));
        assert_eq!(source, SecretSource::Kept(kept.clone()));
        let (again, _) = config.resolved_secret().expect("secret");
        assert_eq!(first.expose(), again.expose());
        let _ = std::fs::remove_file(kept);
        let (_, source) = Config::default()
            .with_app_secret("0123456789abcdef0123456789abcdef")
            .resolved_secret()
            .expect("secret");
        assert_eq!(source, SecretSource::Configured);
    }

    #[test]
    fn the_former_secret_name_is_still_read() {
        jail(|jail| {
            jail.set_env("XCORE_AUTH_JWT_SECRET", "0123456789abcdef0123456789abcdef");
            let config = Config::load().map_err(|e| e.to_string())?;
            let (secret, source) = config.resolved_secret().map_err(|e| e.to_string())?;
            assert_eq!(source, SecretSource::DeprecatedName);
            assert_eq!(secret.expose(), b"0123456789abcdef0123456789abcdef");
            jail.set_env("XCORE_APP_SECRET", "the new name wins, 32 bytes or more");
            let config = Config::load().map_err(|e| e.to_string())?;
            let (secret, source) = config.resolved_secret().map_err(|e| e.to_string())?;
            assert_eq!(source, SecretSource::Configured);
            assert_eq!(secret.expose(), b"the new name wins, 32 bytes or more");
            Ok(())
        });
    }
}
