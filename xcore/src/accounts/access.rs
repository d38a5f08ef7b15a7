//! Roles, permissions and who holds them (`xcore_roles`,
//! `xcore_permissions`, `xcore_role_permissions`, `xcore_user_roles`).
//! Every change bumps the authorisation version of the users it affects,
//! so it holds on their next request.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::json;
use sqlx::AnyConnection;

use super::audit::{Actor, Audit, Event};
use super::users::Users;
use super::versions::Versions;
use crate::db::{Backend, Db, UniqueViolationExt};
use crate::error::Error;

/// The role every installation has.
pub const ADMIN_ROLE: &str = "admin";

/// Key of the PostgreSQL lock serialising administrator demotions.
const ADMIN_LOCK: i64 = 0x0078_6164_6d69;

/// A role and the permissions it grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Role {
    /// Its name.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// The permissions it grants.
    pub permissions: Vec<String>,
}

/// A permission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Permission {
    /// Its name.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
}

/// Roles, permissions and their assignment. Every change is recorded in
/// the audit log with its actor ([`Access::by`]).
#[derive(Clone)]
pub struct Access {
    db: Db,
    users: Users,
    versions: Versions,
    actor: Actor,
}

fn invalid_name(invalid: xcore_rules::Invalid) -> Error {
    Error::Validation(invalid.to_string())
}

impl Access {
    pub(crate) fn new(db: Db, users: Users, versions: Versions) -> Self {
        Access {
            db,
            users,
            versions,
            actor: Actor::default(),
        }
    }

    /// The same service, recording `actor` as the author of its changes
    /// (the built-in `/admin` plugin passes the signed-in administrator).
    pub fn by(&self, actor: Actor) -> Self {
        Access {
            actor,
            ..self.clone()
        }
    }

    async fn record(
        &self,
        conn: &mut AnyConnection,
        event: Event,
        subject: Option<i64>,
        detail: serde_json::Value,
    ) -> Result<(), Error> {
        Audit::record(conn, event, self.actor, subject, detail).await
    }

    /// A user's roles and permissions (through the roles), sorted.
    pub async fn of(&self, user: i64) -> Result<(Vec<String>, Vec<String>), Error> {
        let roles: Vec<(String,)> =
            sqlx::query_as("SELECT role FROM xcore_user_roles WHERE user_id = $1 ORDER BY role")
                .bind(user)
                .fetch_all(self.db.pool())
                .await?;
        let permissions: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT rp.permission FROM xcore_role_permissions rp \
             JOIN xcore_user_roles ur ON ur.role = rp.role WHERE ur.user_id = $1 ORDER BY rp.permission",
        )
        .bind(user)
        .fetch_all(self.db.pool())
        .await?;
        Ok((
            roles.into_iter().map(|(r,)| r).collect(),
            permissions.into_iter().map(|(p,)| p).collect(),
        ))
    }

    /// Every role with its permissions, by name.
    pub async fn roles(&self) -> Result<Vec<Role>, Error> {
        let roles: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT name, description FROM xcore_roles ORDER BY name")
                .fetch_all(self.db.pool())
                .await?;
        let links: Vec<(String, String)> = sqlx::query_as(
            "SELECT role, permission FROM xcore_role_permissions ORDER BY permission",
        )
        .fetch_all(self.db.pool())
        .await?;
        Ok(roles
            .into_iter()
            .map(|(name, description)| Role {
                permissions: links
                    .iter()
                    .filter(|(r, _)| *r == name)
                    .map(|(_, p)| p.clone())
                    .collect(),
                name,
                description,
            })
            .collect())
    }

    /// Every permission, by name.
    pub async fn permissions(&self) -> Result<Vec<Permission>, Error> {
        let rows: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT name, description FROM xcore_permissions ORDER BY name")
                .fetch_all(self.db.pool())
                .await?;
        Ok(rows
            .into_iter()
            .map(|(name, description)| Permission { name, description })
            .collect())
    }

    /// Creates a role: 409 if it exists, 422 for an invalid name.
    pub async fn create_role(&self, name: &str, description: Option<&str>) -> Result<Role, Error> {
        xcore_rules::name::role(name).map_err(invalid_name)?;
        let mut tx = self.db.begin_write().await?;
        sqlx::query("INSERT INTO xcore_roles (name, description) VALUES ($1, $2)")
            .bind(name)
            .bind(description)
            .execute(&mut *tx)
            .await
            .conflict_on_unique(format!("role `{name}` already exists"))?;
        self.record(&mut tx, Event::RoleCreated, None, json!({"role": name}))
            .await?;
        tx.commit().await?;
        Ok(Role {
            name: name.to_owned(),
            description: description.map(str::to_owned),
            permissions: Vec::new(),
        })
    }

    /// Creates a permission: 409 if it exists, 422 for an invalid name.
    pub async fn create_permission(
        &self,
        name: &str,
        description: Option<&str>,
    ) -> Result<Permission, Error> {
        xcore_rules::name::permission(name).map_err(invalid_name)?;
        let mut tx = self.db.begin_write().await?;
        sqlx::query("INSERT INTO xcore_permissions (name, description) VALUES ($1, $2)")
            .bind(name)
            .bind(description)
            .execute(&mut *tx)
            .await
            .conflict_on_unique(format!("permission `{name}` already exists"))?;
        self.record(
            &mut tx,
            Event::PermissionCreated,
            None,
            json!({"permission": name}),
        )
        .await?;
        tx.commit().await?;
        Ok(Permission {
            name: name.to_owned(),
            description: description.map(str::to_owned),
        })
    }

    /// Deletes a role (not `admin`: 409) in one transaction; its holders
    /// lose it on their next request. 404 for an unknown role.
    pub async fn delete_role(&self, name: &str) -> Result<(), Error> {
        if name == ADMIN_ROLE {
            return Err(Error::Conflict(
                "the built-in `admin` role cannot be deleted".into(),
            ));
        }
        let mut tx = self.db.begin_write().await?;
        let holders: Vec<(i64,)> =
            sqlx::query_as("DELETE FROM xcore_user_roles WHERE role = $1 RETURNING user_id")
                .bind(name)
                .fetch_all(&mut *tx)
                .await?;
        sqlx::query("DELETE FROM xcore_role_permissions WHERE role = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let deleted = sqlx::query("DELETE FROM xcore_roles WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(unknown_role(name));
        }
        let holders = ids(holders);
        self.record(&mut tx, Event::RoleDeleted, None, json!({"role": name}))
            .await?;
        Versions::bump_in(&mut tx, &holders).await?;
        tx.commit().await?;
        self.versions.publish(&holders).await
    }

    /// Deletes a permission in one transaction; users holding it through a
    /// role lose it on their next request. 404 for an unknown permission.
    pub async fn delete_permission(&self, name: &str) -> Result<(), Error> {
        let mut tx = self.db.begin_write().await?;
        let holders: Vec<(i64,)> = sqlx::query_as(
            "SELECT DISTINCT ur.user_id FROM xcore_user_roles ur \
             JOIN xcore_role_permissions rp ON rp.role = ur.role WHERE rp.permission = $1",
        )
        .bind(name)
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM xcore_role_permissions WHERE permission = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let deleted = sqlx::query("DELETE FROM xcore_permissions WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(unknown_permission(name));
        }
        let holders = ids(holders);
        self.record(
            &mut tx,
            Event::PermissionDeleted,
            None,
            json!({"permission": name}),
        )
        .await?;
        Versions::bump_in(&mut tx, &holders).await?;
        tx.commit().await?;
        self.versions.publish(&holders).await
    }

    /// Grants `permission` to `role` (idempotent); 404 unless both exist.
    pub async fn grant_permission(&self, role: &str, permission: &str) -> Result<(), Error> {
        const GRANT: &str = "INSERT INTO xcore_role_permissions (role, permission) \
                             VALUES ($1, $2) ON CONFLICT DO NOTHING";
        self.link_permission(GRANT, Event::PermissionGranted, role, permission)
            .await
    }

    /// Takes `permission` from `role` (idempotent); 404 unless both exist.
    pub async fn revoke_permission(&self, role: &str, permission: &str) -> Result<(), Error> {
        const REVOKE: &str =
            "DELETE FROM xcore_role_permissions WHERE role = $1 AND permission = $2";
        self.link_permission(REVOKE, Event::PermissionRevoked, role, permission)
            .await
    }

    /// Runs `sql` on the pair; the role's holders are re-checked on their
    /// next request.
    async fn link_permission(
        &self,
        sql: &'static str,
        event: Event,
        role: &str,
        permission: &str,
    ) -> Result<(), Error> {
        self.require_role(role).await?;
        self.require_permission(permission).await?;
        let mut tx = self.db.begin_write().await?;
        sqlx::query(sql)
            .bind(role)
            .bind(permission)
            .execute(&mut *tx)
            .await?;
        let holders: Vec<(i64,)> =
            sqlx::query_as("SELECT user_id FROM xcore_user_roles WHERE role = $1")
                .bind(role)
                .fetch_all(&mut *tx)
                .await?;
        let holders = ids(holders);
        self.record(
            &mut tx,
            event,
            None,
            json!({"role": role, "permission": permission}),
        )
        .await?;
        Versions::bump_in(&mut tx, &holders).await?;
        tx.commit().await?;
        self.versions.publish(&holders).await
    }

    /// Gives `role` to a user (idempotent); effective on their next request.
    /// 404 for an unknown user or role.
    pub async fn grant_role(&self, user: i64, role: &str) -> Result<(), Error> {
        self.users.require(user).await?;
        self.require_role(role).await?;
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "INSERT INTO xcore_user_roles (user_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(user)
        .bind(role)
        .execute(&mut *tx)
        .await?;
        self.record(
            &mut tx,
            Event::RoleGranted,
            Some(user),
            json!({"role": role}),
        )
        .await?;
        Versions::bump_in(&mut tx, &[user]).await?;
        tx.commit().await?;
        self.versions.publish(&[user]).await
    }

    /// Takes `role` from a user (idempotent); effective on their next
    /// request. 409 when it would leave no administrator.
    pub async fn revoke_role(&self, user: i64, role: &str) -> Result<(), Error> {
        self.users.require(user).await?;
        self.require_role(role).await?;
        let held: Option<(i64,)> =
            sqlx::query_as("SELECT 1 FROM xcore_user_roles WHERE user_id = $1 AND role = $2")
                .bind(user)
                .bind(role)
                .fetch_optional(self.db.pool())
                .await?;
        // One statement keeps "not the last admin" and the removal together
        // (SQLite runs one writer at a time); on PostgreSQL a
        // transaction-scoped lock also serialises concurrent demotions,
        // which READ COMMITTED would let both see two admins.
        const REMOVE: &str = "DELETE FROM xcore_user_roles WHERE user_id = $1 AND role = $2 AND \
             (role <> $3 OR (SELECT COUNT(*) FROM xcore_user_roles WHERE role = $3 AND user_id <> $1) > 0)";
        let mut tx = self.db.begin_write().await?;
        if self.db.backend() == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(ADMIN_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        let removed = sqlx::query(REMOVE)
            .bind(user)
            .bind(role)
            .bind(ADMIN_ROLE)
            .execute(&mut *tx)
            .await?;
        if held.is_some() && removed.rows_affected() == 0 {
            return Err(Error::Conflict(
                "this is the last administrator: grant `admin` to someone else first".into(),
            ));
        }
        if removed.rows_affected() > 0 {
            self.record(
                &mut tx,
                Event::RoleRevoked,
                Some(user),
                json!({"role": role}),
            )
            .await?;
        }
        Versions::bump_in(&mut tx, &[user]).await?;
        tx.commit().await?;
        self.versions.publish(&[user]).await
    }

    /// How many users hold the `admin` role.
    pub(crate) async fn admin_count(&self) -> Result<i64, Error> {
        let (admins,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM xcore_user_roles WHERE role = $1")
                .bind(ADMIN_ROLE)
                .fetch_one(self.db.pool())
                .await?;
        Ok(admins)
    }

    /// Makes `user` the first administrator, on `conn` (the caller records
    /// it and bumps their version).
    pub(crate) async fn make_admin_in(conn: &mut AnyConnection, user: i64) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO xcore_user_roles (user_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(user)
        .bind(ADMIN_ROLE)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// 404 unless `role` exists.
    async fn require_role(&self, role: &str) -> Result<(), Error> {
        let found: Option<(i64,)> = sqlx::query_as("SELECT 1 FROM xcore_roles WHERE name = $1")
            .bind(role)
            .fetch_optional(self.db.pool())
            .await?;
        found.map(drop).ok_or_else(|| unknown_role(role))
    }

    /// 404 unless `permission` exists.
    async fn require_permission(&self, permission: &str) -> Result<(), Error> {
        let found: Option<(i64,)> =
            sqlx::query_as("SELECT 1 FROM xcore_permissions WHERE name = $1")
                .bind(permission)
                .fetch_optional(self.db.pool())
                .await?;
        found
            .map(drop)
            .ok_or_else(|| unknown_permission(permission))
    }
}

fn unknown_role(role: &str) -> Error {
    Error::NotFound(format!("role `{role}` does not exist"))
}

fn unknown_permission(permission: &str) -> Error {
    Error::NotFound(format!("permission `{permission}` does not exist"))
}

fn ids(rows: Vec<(i64,)>) -> Vec<i64> {
    rows.into_iter().map(|(id,)| id).collect()
}
