//! Roles, permissions and who holds them (`xcore_roles`,
//! `xcore_permissions`, `xcore_role_permissions`, `xcore_user_roles`).
//! Every change bumps the authorisation version of the users it affects,
//! so it holds on their next request.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::json;
use sqlx::AnyConnection;

use super::audit::{Actor, Event};
use super::users::Users;
use super::versions::Versions;
use super::write::{Change, Writes};
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
    writes: Writes,
    actor: Actor,
}

/// Roles and permissions are both named entries with a description; what
/// differs between the two kinds, in one place.
struct Kind {
    /// The name's rule (`xcore-rules`).
    rule: fn(&str) -> Result<(), xcore_rules::Invalid>,
    noun: &'static str,
    insert: &'static str,
    exists: &'static str,
    /// The users who hold it (through a role, for a permission); for a
    /// role, its holdings go in the same statement.
    holders: &'static str,
    /// Its links to the other kind.
    unlink: &'static str,
    remove: &'static str,
    created: Event,
    deleted: Event,
}

const ROLE: Kind = Kind {
    rule: xcore_rules::name::role,
    noun: "role",
    insert: "INSERT INTO xcore_roles (name, description) VALUES ($1, $2)",
    exists: "SELECT 1 FROM xcore_roles WHERE name = $1",
    holders: "DELETE FROM xcore_user_roles WHERE role = $1 RETURNING user_id",
    unlink: "DELETE FROM xcore_role_permissions WHERE role = $1",
    remove: "DELETE FROM xcore_roles WHERE name = $1",
    created: Event::RoleCreated,
    deleted: Event::RoleDeleted,
};

const PERMISSION: Kind = Kind {
    rule: xcore_rules::name::permission,
    noun: "permission",
    insert: "INSERT INTO xcore_permissions (name, description) VALUES ($1, $2)",
    exists: "SELECT 1 FROM xcore_permissions WHERE name = $1",
    holders: "SELECT DISTINCT ur.user_id FROM xcore_user_roles ur \
              JOIN xcore_role_permissions rp ON rp.role = ur.role WHERE rp.permission = $1",
    unlink: "DELETE FROM xcore_role_permissions WHERE permission = $1",
    remove: "DELETE FROM xcore_permissions WHERE name = $1",
    created: Event::PermissionCreated,
    deleted: Event::PermissionDeleted,
};

impl Kind {
    fn unknown(&self, name: &str) -> Error {
        Error::NotFound(format!("{} `{name}` does not exist", self.noun))
    }
}

impl Access {
    pub(crate) fn new(db: Db, users: Users, versions: Versions) -> Self {
        Access {
            writes: Writes::new(db.clone(), versions),
            db,
            users,
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
        self.create(&ROLE, name, description).await?;
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
        self.create(&PERMISSION, name, description).await?;
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
        self.delete(&ROLE, name).await
    }

    /// Deletes a permission in one transaction; users holding it through a
    /// role lose it on their next request. 404 for an unknown permission.
    pub async fn delete_permission(&self, name: &str) -> Result<(), Error> {
        self.delete(&PERMISSION, name).await
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
        self.require(&ROLE, role).await?;
        self.require(&PERMISSION, permission).await?;
        let change =
            Change::new(event, self.actor).detail(json!({"role": role, "permission": permission}));
        self.writes
            .run(change, async |tx, change| {
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
                change.publish = ids(holders);
                Versions::bump_in(tx, &change.publish).await
            })
            .await
    }

    /// Gives `role` to a user (idempotent); effective on their next request.
    /// 404 for an unknown user or role.
    pub async fn grant_role(&self, user: i64, role: &str) -> Result<(), Error> {
        self.users.require(user).await?;
        self.require(&ROLE, role).await?;
        let change = Change::new(Event::RoleGranted, self.actor)
            .changes(user)
            .detail(json!({"role": role}));
        self.writes
            .run(change, async |tx, _| {
                sqlx::query(
                    "INSERT INTO xcore_user_roles (user_id, role) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(user)
                .bind(role)
                .execute(&mut *tx)
                .await?;
                Versions::bump_in(tx, &[user]).await
            })
            .await
    }

    /// Takes `role` from a user (idempotent); effective on their next
    /// request. 409 when it would leave no administrator.
    pub async fn revoke_role(&self, user: i64, role: &str) -> Result<(), Error> {
        self.users.require(user).await?;
        self.require(&ROLE, role).await?;
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
        let change = Change::new(Event::RoleRevoked, self.actor)
            .changes(user)
            .detail(json!({"role": role}));
        self.writes
            .run(change, async |tx, change| {
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
                        "this is the last administrator: grant `admin` to someone else first"
                            .into(),
                    ));
                }
                // Not held: nothing to record (the version still moves, as
                // it always has).
                change.happened = removed.rows_affected() > 0;
                Versions::bump_in(tx, &[user]).await
            })
            .await
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

    /// Creates a role or a permission: 409 if it exists, 422 for an
    /// invalid name.
    async fn create(
        &self,
        kind: &Kind,
        name: &str,
        description: Option<&str>,
    ) -> Result<(), Error> {
        (kind.rule)(name).map_err(|invalid| Error::Validation(invalid.to_string()))?;
        let change = Change::new(kind.created, self.actor).detail(json!({ kind.noun: name }));
        self.writes
            .run(change, async |tx, _| {
                sqlx::query(kind.insert)
                    .bind(name)
                    .bind(description)
                    .execute(&mut *tx)
                    .await
                    .conflict_on_unique(format!("{} `{name}` already exists", kind.noun))?;
                Ok(())
            })
            .await
    }

    /// Deletes a role or a permission in one transaction; its holders lose
    /// it on their next request. 404 for an unknown name.
    async fn delete(&self, kind: &Kind, name: &str) -> Result<(), Error> {
        let change = Change::new(kind.deleted, self.actor).detail(json!({ kind.noun: name }));
        self.writes
            .run(change, async |tx, change| {
                let holders: Vec<(i64,)> = sqlx::query_as(kind.holders)
                    .bind(name)
                    .fetch_all(&mut *tx)
                    .await?;
                sqlx::query(kind.unlink)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                let deleted = sqlx::query(kind.remove)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                if deleted.rows_affected() == 0 {
                    return Err(kind.unknown(name));
                }
                change.publish = ids(holders);
                Versions::bump_in(tx, &change.publish).await
            })
            .await
    }

    /// 404 unless the role or permission `name` exists.
    async fn require(&self, kind: &Kind, name: &str) -> Result<(), Error> {
        let found: Option<(i64,)> = sqlx::query_as(kind.exists)
            .bind(name)
            .fetch_optional(self.db.pool())
            .await?;
        found.map(drop).ok_or_else(|| kind.unknown(name))
    }
}

fn ids(rows: Vec<(i64,)>) -> Vec<i64> {
    rows.into_iter().map(|(id,)| id).collect()
}
