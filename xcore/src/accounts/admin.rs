//! The built-in `/admin` plugin: roles, permissions and who holds them.
//! Every route requires the `admin` role; changes take effect on the
//! affected users' next request. Disable with `admin.endpoints = false`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::store::{ADMIN_ROLE, Accounts, User};
use crate::db::UniqueViolationExt;
use crate::prelude::*;

/// The built-in administration endpoints, mounted under `/admin`.
pub struct Admin;

/// A new role or permission.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NewName {
    /// 1 to 64 characters among a-z, 0-9, `_`, `-`, `:` and `.`.
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[a-z0-9_\-:.]+$"))]
    name: String,
    /// What it is for.
    #[serde(default)]
    description: Option<String>,
}

/// A role and the permissions it grants.
#[derive(Serialize, JsonSchema)]
struct Role {
    name: String,
    description: Option<String>,
    permissions: Vec<String>,
}

/// A permission.
#[derive(Serialize, JsonSchema)]
struct Permission {
    name: String,
    description: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
struct PageQuery {
    /// Page number, from 1.
    #[serde(default = "first_page")]
    page: u32,
    /// Users per page (at most 200).
    #[serde(default = "default_per_page")]
    per_page: u32,
}

fn first_page() -> u32 {
    1
}

fn default_per_page() -> u32 {
    50
}

/// One page of users.
#[derive(Serialize, JsonSchema)]
struct Page {
    items: Vec<User>,
    page: u32,
    per_page: u32,
    total: i64,
}

/// Names of roles and permissions: short, lower-case, no spaces.
fn check_name(kind: &str, name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | ':' | '.')
        });
    if valid {
        Ok(())
    } else {
        Err(Error::Validation(format!(
            "a {kind} name has 1 to 64 characters among a-z, 0-9, `_`, `-`, `:` and `.`"
        )))
    }
}

async fn exists(accounts: &Accounts, sql: &'static str, key: &str) -> Result<bool> {
    let found: Option<(i64,)> = sqlx::query_as(sql)
        .bind(key)
        .fetch_optional(accounts.db().pool())
        .await?;
    Ok(found.is_some())
}

async fn role_exists(accounts: &Accounts, role: &str) -> Result<()> {
    accounts.require_role(role).await
}

async fn permission_exists(accounts: &Accounts, permission: &str) -> Result<()> {
    if exists(
        accounts,
        "SELECT 1 FROM xcore_permissions WHERE name = $1",
        permission,
    )
    .await?
    {
        Ok(())
    } else {
        Err(Error::NotFound(format!(
            "permission `{permission}` does not exist"
        )))
    }
}

const ROLE_INSERT: &str = "INSERT INTO xcore_roles (name, description) VALUES ($1, $2)";
const PERMISSION_INSERT: &str = "INSERT INTO xcore_permissions (name, description) VALUES ($1, $2)";

/// Creates a role or a permission (`insert` names the table): its name and
/// description; 409 if it exists, 422 for an invalid name.
async fn create_named(
    accounts: &Accounts,
    kind: &str,
    insert: &'static str,
    body: NewName,
) -> Result<(String, Option<String>)> {
    check_name(kind, &body.name)?;
    sqlx::query(insert)
        .bind(&body.name)
        .bind(&body.description)
        .execute(accounts.db().pool())
        .await
        .conflict_on_unique(format!("{kind} `{}` already exists", body.name))?;
    Ok((body.name, body.description))
}

/// Grants or takes a permission from a role (`sql` says which): both must
/// exist (404), and the role's holders are re-checked on their next request.
async fn link_permission(
    accounts: &Accounts,
    sql: &'static str,
    role: &str,
    permission: &str,
) -> Result<()> {
    role_exists(accounts, role).await?;
    permission_exists(accounts, permission).await?;
    sqlx::query(sql)
        .bind(role)
        .bind(permission)
        .execute(accounts.db().pool())
        .await?;
    accounts.bump(&holders(accounts, role).await?).await
}

/// Users holding `role`, whose tokens must be re-checked after a change.
async fn holders(accounts: &Accounts, role: &str) -> Result<Vec<i64>> {
    let rows: Vec<(i64,)> = sqlx::query_as("SELECT user_id FROM xcore_user_roles WHERE role = $1")
        .bind(role)
        .fetch_all(accounts.db().pool())
        .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

#[plugin(name = "admin", version = "1.0.0", prefix = "/admin", tags = ["admin"],
         description = "Roles, permissions and their assignment")]
impl Admin {
    /// Every role with its permissions.
    #[route(get, "/roles", auth = "admin")]
    async fn roles(State(state): State<AppState>) -> Result<Json<Vec<Role>>> {
        let db = state.accounts().db().pool();
        let roles: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT name, description FROM xcore_roles ORDER BY name")
                .fetch_all(db)
                .await?;
        let links: Vec<(String, String)> = sqlx::query_as(
            "SELECT role, permission FROM xcore_role_permissions ORDER BY permission",
        )
        .fetch_all(db)
        .await?;
        Ok(Json(
            roles
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
                .collect(),
        ))
    }

    /// Creates a role: 201, 409 if it exists.
    #[route(post, "/roles", auth = "admin", status = 201)]
    async fn create_role(
        State(state): State<AppState>,
        Json(body): Json<NewName>,
    ) -> Result<Json<Role>> {
        let (name, description) = create_named(state.accounts(), "role", ROLE_INSERT, body).await?;
        Ok(Json(Role {
            name,
            description,
            permissions: Vec::new(),
        }))
    }

    /// Deletes a role (not `admin`): its holders lose it on their next request.
    #[route(delete, "/roles/{name}", auth = "admin", status = 204)]
    async fn delete_role(State(state): State<AppState>, Path(name): Path<String>) -> Result<()> {
        if name == ADMIN_ROLE {
            return Err(Error::Conflict(
                "the built-in `admin` role cannot be deleted".into(),
            ));
        }
        let accounts = state.accounts();
        role_exists(accounts, &name).await?;
        let affected = holders(accounts, &name).await?;
        sqlx::query("DELETE FROM xcore_user_roles WHERE role = $1")
            .bind(&name)
            .execute(accounts.db().pool())
            .await?;
        sqlx::query("DELETE FROM xcore_role_permissions WHERE role = $1")
            .bind(&name)
            .execute(accounts.db().pool())
            .await?;
        sqlx::query("DELETE FROM xcore_roles WHERE name = $1")
            .bind(&name)
            .execute(accounts.db().pool())
            .await?;
        accounts.bump(&affected).await?;
        Ok(())
    }

    /// Every permission.
    #[route(get, "/permissions", auth = "admin")]
    async fn permissions(State(state): State<AppState>) -> Result<Json<Vec<Permission>>> {
        let rows: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT name, description FROM xcore_permissions ORDER BY name")
                .fetch_all(state.accounts().db().pool())
                .await?;
        Ok(Json(
            rows.into_iter()
                .map(|(name, description)| Permission { name, description })
                .collect(),
        ))
    }

    /// Creates a permission: 201, 409 if it exists.
    #[route(post, "/permissions", auth = "admin", status = 201)]
    async fn create_permission(
        State(state): State<AppState>,
        Json(body): Json<NewName>,
    ) -> Result<Json<Permission>> {
        let (name, description) =
            create_named(state.accounts(), "permission", PERMISSION_INSERT, body).await?;
        Ok(Json(Permission { name, description }))
    }

    /// Deletes a permission: users holding it through a role lose it.
    #[route(delete, "/permissions/{name}", auth = "admin", status = 204)]
    async fn delete_permission(
        State(state): State<AppState>,
        Path(name): Path<String>,
    ) -> Result<()> {
        let accounts = state.accounts();
        permission_exists(accounts, &name).await?;
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT DISTINCT ur.user_id FROM xcore_user_roles ur \
             JOIN xcore_role_permissions rp ON rp.role = ur.role WHERE rp.permission = $1",
        )
        .bind(&name)
        .fetch_all(accounts.db().pool())
        .await?;
        sqlx::query("DELETE FROM xcore_role_permissions WHERE permission = $1")
            .bind(&name)
            .execute(accounts.db().pool())
            .await?;
        sqlx::query("DELETE FROM xcore_permissions WHERE name = $1")
            .bind(&name)
            .execute(accounts.db().pool())
            .await?;
        accounts
            .bump(&rows.into_iter().map(|(id,)| id).collect::<Vec<_>>())
            .await?;
        Ok(())
    }

    /// Grants a permission to a role (idempotent).
    #[route(
        put,
        "/roles/{role}/permissions/{permission}",
        auth = "admin",
        status = 204
    )]
    async fn grant_permission(
        State(state): State<AppState>,
        Path((role, permission)): Path<(String, String)>,
    ) -> Result<()> {
        const GRANT: &str = "INSERT INTO xcore_role_permissions (role, permission) \
                             VALUES ($1, $2) ON CONFLICT DO NOTHING";
        link_permission(state.accounts(), GRANT, &role, &permission).await
    }

    /// Takes a permission from a role (idempotent).
    #[route(
        delete,
        "/roles/{role}/permissions/{permission}",
        auth = "admin",
        status = 204
    )]
    async fn revoke_permission(
        State(state): State<AppState>,
        Path((role, permission)): Path<(String, String)>,
    ) -> Result<()> {
        const REVOKE: &str =
            "DELETE FROM xcore_role_permissions WHERE role = $1 AND permission = $2";
        link_permission(state.accounts(), REVOKE, &role, &permission).await
    }

    /// The users, a page at a time (`?page=1&per_page=50`, at most 200).
    #[route(get, "/users", auth = "admin")]
    async fn users(
        State(state): State<AppState>,
        Query(query): Query<PageQuery>,
    ) -> Result<Json<Page>> {
        let per_page = query.per_page.clamp(1, 200);
        let page = query.page.max(1);
        let accounts = state.accounts();
        let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM xcore_users")
            .fetch_one(accounts.db().pool())
            .await?;
        let ids: Vec<(i64,)> =
            sqlx::query_as("SELECT id FROM xcore_users ORDER BY id LIMIT $1 OFFSET $2")
                .bind(i64::from(per_page))
                .bind(i64::from(page - 1) * i64::from(per_page))
                .fetch_all(accounts.db().pool())
                .await?;
        let mut items = Vec::with_capacity(ids.len());
        for (id,) in ids {
            items.push(accounts.user(id).await?);
        }
        Ok(Json(Page {
            items,
            page,
            per_page,
            total,
        }))
    }

    /// Gives a role to a user (idempotent); effective on their next request.
    #[route(put, "/users/{id}/roles/{role}", auth = "admin", status = 204)]
    async fn grant_role(
        State(state): State<AppState>,
        Path((id, role)): Path<(i64, String)>,
    ) -> Result<()> {
        state.accounts().grant_role(id, &role).await?;
        Ok(())
    }

    /// Turns a user's TOTP off without a code (a lost authenticator) and
    /// ends their sessions; they sign in again with their password.
    #[route(delete, "/users/{id}/totp", auth = "admin", status = 204)]
    async fn reset_totp(State(state): State<AppState>, Path(id): Path<i64>) -> Result<()> {
        state.accounts().totp_reset(id).await
    }

    /// Takes a role from a user (idempotent); the last admin keeps theirs (409).
    #[route(delete, "/users/{id}/roles/{role}", auth = "admin", status = 204)]
    async fn revoke_role(
        State(state): State<AppState>,
        Path((id, role)): Path<(i64, String)>,
    ) -> Result<()> {
        state.accounts().revoke_role(id, &role).await?;
        Ok(())
    }
}
