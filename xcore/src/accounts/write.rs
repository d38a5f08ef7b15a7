//! The one shape of a change to accounts: in a write transaction (SQLite's
//! write lock taken first), recorded in the audit log in that same
//! transaction — a change is never committed unrecorded, nor recorded
//! without being committed — and, once committed, the new versions of the
//! users it changed are told to every instance, whose guards then read
//! them anew.

use serde_json::{Value, json};
use sqlx::AnyConnection;

use super::audit::{Actor, Audit, Event};
use super::versions::Versions;
use crate::db::Db;
use crate::error::Error;

/// What the audit log records of a change, and whom it changed.
///
/// The change itself may fill it in once it knows (the user a link
/// belongs to, the id of a new key).
pub(crate) struct Change {
    pub(super) event: Event,
    pub(super) actor: Actor,
    /// The user the change is about.
    pub(super) subject: Option<i64>,
    pub(super) detail: Value,
    /// Users whose authorisation version the change bumped: published
    /// once it is committed.
    pub(super) publish: Vec<i64>,
    /// `false` when an idempotent change found nothing to do: nothing is
    /// recorded.
    pub(super) happened: bool,
}

impl Change {
    /// `event`, done by `actor`.
    pub(super) fn new(event: Event, actor: Actor) -> Self {
        Change {
            event,
            actor,
            subject: None,
            detail: json!({}),
            publish: Vec::new(),
            happened: true,
        }
    }

    /// About `user`.
    pub(super) fn about(mut self, user: i64) -> Self {
        self.subject = Some(user);
        self
    }

    /// About `user`, whose profile it changes: their new version is
    /// published after the commit.
    pub(super) fn changes(mut self, user: i64) -> Self {
        self.subject = Some(user);
        self.publish.push(user);
        self
    }

    /// With `detail` in the log.
    pub(super) fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }
}

/// Runs changes to accounts, audited; see [the module](self).
#[derive(Clone)]
pub(crate) struct Writes {
    db: Db,
    versions: Versions,
}

impl Writes {
    pub(crate) fn new(db: Db, versions: Versions) -> Self {
        Writes { db, versions }
    }

    /// Runs `apply` in a write transaction, records `change` in it and
    /// commits; then publishes the versions of the users it changed. An
    /// error from `apply` rolls everything back, record included.
    pub(super) async fn run<T>(
        &self,
        mut change: Change,
        apply: impl AsyncFnOnce(&mut AnyConnection, &mut Change) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut tx = self.db.begin_write().await?;
        let value = apply(&mut *tx, &mut change).await?;
        if change.happened {
            Audit::record(
                &mut tx,
                change.event,
                change.actor,
                change.subject,
                change.detail,
            )
            .await?;
        }
        tx.commit().await?;
        if !change.publish.is_empty() {
            self.versions.publish(&change.publish).await?;
        }
        Ok(value)
    }
}
