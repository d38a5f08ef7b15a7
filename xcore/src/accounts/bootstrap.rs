//! The first administrator: from `XCORE_ADMIN_EMAIL` at start-up, or the
//! `create-admin` command; an account someone else registered under that
//! e-mail is never handed the role.

use serde_json::json;

use super::users::{Users, normalize_email};
use super::versions::Versions;
use super::write::Change;
use super::{Access, Accounts, Event};
use crate::config::Config;
use crate::error::Error;

impl Accounts {
    /// Creates or promotes the first administrator when none exists. An
    /// existing account with the configured e-mail is promoted only when
    /// the configured password is its password: anyone may have registered
    /// that e-mail before the operator configured it.
    pub(crate) async fn bootstrap_admin(&self, config: &Config) -> Result<(), Error> {
        let Some(email) = config.admin.email.as_deref().map(normalize_email) else {
            return Ok(());
        };
        if self.access.admin_count().await? > 0 {
            return Ok(());
        }
        let Some(password) = config.admin.password.as_ref() else {
            if self.users.credentials(&email).await?.is_some() {
                return Err(existing_account_refused());
            }
            return Err(Error::Config(
                "XCORE_ADMIN_EMAIL names no account yet: set XCORE_ADMIN_PASSWORD to create it"
                    .into(),
            ));
        };
        let password = std::str::from_utf8(password.expose())
            .map_err(|_| Error::Config("XCORE_ADMIN_PASSWORD must be UTF-8".into()))?;
        let admin = self.make_admin(&email, password).await?;
        tracing::info!(user = admin.id, "first administrator set up");
        Ok(())
    }

    /// Makes `email` an administrator: creates the account with `password`,
    /// or promotes the existing one only if `password` is its password (an
    /// account someone registered under the administrator's e-mail is not
    /// handed the role). What `create-admin` on the command line and
    /// `XCORE_ADMIN_EMAIL` do; audited.
    pub async fn make_admin(&self, email: &str, password: &str) -> Result<AdminMade, Error> {
        let email = normalize_email(email);
        let (id, created) = match self.users.credentials(&email).await? {
            Some(credentials) if self.hasher.verify(password, &credentials.hash).await? => {
                (credentials.id, false)
            }
            Some(_) => {
                tracing::error!(
                    "refusing to make an existing account an administrator: the password given \
                     is not its password"
                );
                return Err(existing_account_refused());
            }
            None => {
                let user = self
                    .register(&email, password)
                    .await
                    .map_err(|err| match err {
                        Error::InvalidFields(fields) => Error::Config(format!(
                            "administrator: {}",
                            fields
                                .iter()
                                .map(|f| format!("{} {}", f.path, f.message))
                                .collect::<Vec<_>>()
                                .join("; ")
                        )),
                        other => other,
                    })?;
                (user.id, true)
            }
        };
        let change = Change::new(Event::AdminBootstrapped, self.actor)
            .about(id)
            .detail(json!({ "created": created }));
        self.writes
            .run(change, async |tx, _| {
                Access::make_admin_in(tx, id).await?;
                // The operator vouches for the address of the account they name.
                Users::set_verified_in(tx, id).await?;
                Versions::bump_in(tx, &[id]).await
            })
            .await?;
        // A cache outage must not stop the app: the version in the database
        // is the reference, and cached ones expire.
        if let Err(err) = self.versions.publish(&[id]).await {
            tracing::warn!(error = %err, "administrator set up; cache not updated");
        }
        Ok(AdminMade { id, created })
    }
}

/// What [`Accounts::make_admin`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdminMade {
    /// The administrator's id.
    pub id: i64,
    /// `true` when the account was created, `false` when an existing one was
    /// promoted.
    pub created: bool,
}

fn existing_account_refused() -> Error {
    Error::Config(
        "the administrator's e-mail names an account that already exists, and the password \
         given is not its password: it is not made an administrator (someone else may have \
         registered that e-mail). Give the account's password (XCORE_ADMIN_PASSWORD, or \
         create-admin's), or name another e-mail"
            .into(),
    )
}
