//! The audit log (`xcore_audit`): who did what to whom, from where. Each
//! record is written in the same transaction as the change it records (a
//! change that rolls back leaves no record; a record never lacks its
//! change), and logged as one structured line (target `xcore::audit`).
//! Records hold names and ids, never a secret, password, token or code.

use std::net::IpAddr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::AnyConnection;

use crate::clock;
use crate::db::Db;
use crate::error::Error;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// An account was created.
    Registered,
    /// A session started (password, and second factor when on).
    LoginSucceeded,
    /// A wrong password, unknown e-mail or wrong second-factor code (the
    /// account as subject when it exists; the answer is the same).
    LoginFailed,
    /// A signed-in user gave a wrong current password (`detail.for`: what
    /// it was to allow: `password_change`, `totp_setup`, ...).
    PasswordCheckFailed,
    /// A signed-in user gave a wrong code (`detail.for`: `totp_confirm`,
    /// `recovery_codes`, `totp_disable`, `otp`).
    CodeCheckFailed,
    /// A password-reset or verification link's token was unknown, spent or
    /// expired (`detail.purpose`).
    LinkRefused,
    /// Too many failures: logins of this account or from this address are
    /// refused for a while (recorded at the first refusal).
    LoginLocked,
    /// A refresh token was used twice: its session was ended.
    RefreshReused,
    /// One session ended (logout).
    SessionEnded,
    /// Every session of the user ended (logout everywhere, or by an
    /// administrator).
    SessionsEnded,
    /// The password was changed.
    PasswordChanged,
    /// A password-reset link was sent.
    PasswordResetRequested,
    /// The password was reset with a link.
    PasswordReset,
    /// The e-mail address was verified with a link.
    EmailVerified,
    /// TOTP was turned on.
    TotpEnabled,
    /// A recovery code was used to log in.
    RecoveryCodeUsed,
    /// The recovery codes were replaced.
    RecoveryCodesReplaced,
    /// An API key was created.
    ApiKeyCreated,
    /// An API key was revoked.
    ApiKeyRevoked,
    /// An API key was used from another address than the last one
    /// recorded (`detail.key`; at most one record a minute per key).
    ApiKeyUsed,
    /// TOTP was turned off by its user.
    TotpDisabled,
    /// TOTP was turned off by an administrator.
    TotpReset,
    /// A role was created.
    RoleCreated,
    /// A role was deleted.
    RoleDeleted,
    /// A permission was created.
    PermissionCreated,
    /// A permission was deleted.
    PermissionDeleted,
    /// A role was given to a user.
    RoleGranted,
    /// A role was taken from a user.
    RoleRevoked,
    /// A permission was given to a role.
    PermissionGranted,
    /// A permission was taken from a role.
    PermissionRevoked,
    /// The configured first administrator was set up at start-up.
    AdminBootstrapped,
}

impl Event {
    /// The name stored and logged: `login_failed`, `role_granted`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Registered => "registered",
            Event::LoginSucceeded => "login_succeeded",
            Event::LoginFailed => "login_failed",
            Event::PasswordCheckFailed => "password_check_failed",
            Event::CodeCheckFailed => "code_check_failed",
            Event::LinkRefused => "link_refused",
            Event::LoginLocked => "login_locked",
            Event::RefreshReused => "refresh_reused",
            Event::SessionEnded => "session_ended",
            Event::SessionsEnded => "sessions_ended",
            Event::PasswordChanged => "password_changed",
            Event::PasswordResetRequested => "password_reset_requested",
            Event::PasswordReset => "password_reset",
            Event::EmailVerified => "email_verified",
            Event::TotpEnabled => "totp_enabled",
            Event::TotpDisabled => "totp_disabled",
            Event::ApiKeyCreated => "api_key_created",
            Event::ApiKeyRevoked => "api_key_revoked",
            Event::ApiKeyUsed => "api_key_used",
            Event::RecoveryCodeUsed => "recovery_code_used",
            Event::RecoveryCodesReplaced => "recovery_codes_replaced",
            Event::TotpReset => "totp_reset",
            Event::RoleCreated => "role_created",
            Event::RoleDeleted => "role_deleted",
            Event::PermissionCreated => "permission_created",
            Event::PermissionDeleted => "permission_deleted",
            Event::RoleGranted => "role_granted",
            Event::RoleRevoked => "role_revoked",
            Event::PermissionGranted => "permission_granted",
            Event::PermissionRevoked => "permission_revoked",
            Event::AdminBootstrapped => "admin_bootstrapped",
        }
    }
}

/// Who acts: a signed-in user (an administrator, or users on their own
/// account), from an address; neither for the application's own code.
///
/// ```
/// use xcore::accounts::Actor;
///
/// let admin = Actor::user(1).from_address("203.0.113.9".parse().unwrap());
/// assert_eq!(admin.user, Some(1));
/// assert_eq!(Actor::default().user, None);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Actor {
    /// The acting user.
    pub user: Option<i64>,
    /// The client address the request came from.
    pub address: Option<IpAddr>,
}

impl Actor {
    /// The user `id`, acting.
    pub fn user(id: i64) -> Self {
        Actor {
            user: Some(id),
            address: None,
        }
    }

    /// The same actor, from `address`.
    pub fn from_address(mut self, address: IpAddr) -> Self {
        self.address = Some(address);
        self
    }
}

/// One record of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct AuditEntry {
    /// Increasing with time.
    pub id: i64,
    /// When, in Unix seconds.
    pub at: i64,
    /// What happened.
    pub event: String,
    /// Who did it (none: the application itself, or an anonymous client).
    pub actor: Option<i64>,
    /// To whom.
    pub subject: Option<i64>,
    /// From which client address.
    pub address: Option<String>,
    /// The rest: role or permission names, the e-mail a failed login gave.
    pub detail: Value,
}

/// A query of the log: newest first, optionally for one user (as actor or
/// subject) or one event.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct AuditQuery {
    /// Only records where this user acted or was acted on.
    pub user: Option<i64>,
    /// Only this event.
    pub event: Option<Event>,
    /// Page number, from 1.
    pub page: u32,
    /// Records per page.
    pub per_page: u32,
}

impl AuditQuery {
    /// Page `page` (from 1) of `per_page` records.
    pub fn page(page: u32, per_page: u32) -> Self {
        AuditQuery {
            page,
            per_page,
            ..AuditQuery::default()
        }
    }
}

/// The audit log.
#[derive(Clone)]
pub struct Audit {
    db: Db,
}

/// Longest text kept from a client (an e-mail of a failed login).
const MAX_TEXT: usize = 254;

/// A client's text as the log keeps it: bounded, printable.
pub(crate) fn client_text(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(MAX_TEXT)
        .collect()
}

impl Audit {
    pub(crate) fn new(db: Db) -> Self {
        Audit { db }
    }

    /// Writes a record on `conn` (inside the caller's transaction) and logs it.
    pub(crate) async fn record(
        conn: &mut AnyConnection,
        event: Event,
        actor: Actor,
        subject: Option<i64>,
        detail: Value,
    ) -> Result<(), Error> {
        let address = actor.address.map(|a| a.to_string());
        let detail_text = detail.to_string();
        sqlx::query(
            "INSERT INTO xcore_audit (at, event, actor, subject, address, detail) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(clock::now())
        .bind(event.as_str())
        .bind(actor.user)
        .bind(subject)
        .bind(&address)
        .bind(&detail_text)
        .execute(conn)
        .await?;
        tracing::info!(
            target: "xcore::audit",
            event = event.as_str(),
            actor = actor.user,
            subject,
            address = address.as_deref(),
            detail = %detail_text,
            "audit"
        );
        Ok(())
    }

    /// Writes a record in a transaction of its own (events that change
    /// nothing else: a failed login).
    pub(crate) async fn record_alone(
        &self,
        event: Event,
        actor: Actor,
        subject: Option<i64>,
        detail: Value,
    ) -> Result<(), Error> {
        let mut conn = self.db.pool().acquire().await?;
        Self::record(&mut conn, event, actor, subject, detail).await
    }

    /// One page of the log, newest first, and how many records match.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> xcore::Result<()> {
    /// use xcore::accounts::{AuditQuery, Event};
    /// use xcore::testing::TestClient;
    ///
    /// let client = TestClient::new(xcore::App::new(xcore::testing::config())?).await?;
    /// let accounts = client.state().accounts();
    /// accounts.access().create_role("editor", None).await?;
    /// let (total, entries) = accounts.audit().page(&AuditQuery::page(1, 50)).await?;
    /// assert_eq!((total, entries[0].event.as_str()), (1, "role_created"));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn page(&self, query: &AuditQuery) -> Result<(i64, Vec<AuditEntry>), Error> {
        let per_page = query.per_page.clamp(1, 200);
        let page = query.page.max(1);
        // One statement for every filter: unset ones match everything.
        const WHERE: &str = "WHERE ($1 IS NULL OR actor = $1 OR subject = $1) \
                             AND ($2 IS NULL OR event = $2)";
        let event = query.event.map(Event::as_str);
        let (total,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM xcore_audit {WHERE}"
        )))
        .bind(query.user)
        .bind(event)
        .fetch_one(self.db.pool())
        .await?;
        type Row = (
            i64,
            i64,
            String,
            Option<i64>,
            Option<i64>,
            Option<String>,
            String,
        );
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id, at, event, actor, subject, address, detail FROM xcore_audit {WHERE} \
             ORDER BY id DESC LIMIT $3 OFFSET $4"
        )))
        .bind(query.user)
        .bind(event)
        .bind(i64::from(per_page))
        .bind(i64::from(page - 1) * i64::from(per_page))
        .fetch_all(self.db.pool())
        .await?;
        Ok((
            total,
            rows.into_iter()
                .map(
                    |(id, at, event, actor, subject, address, detail)| AuditEntry {
                        id,
                        at,
                        event,
                        actor,
                        subject,
                        address,
                        detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
                    },
                )
                .collect(),
        ))
    }
}
