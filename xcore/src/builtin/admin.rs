//! The built-in `/admin` plugin: roles, permissions and who holds them.
//! Every route requires the `admin` role; changes take effect on the
//! affected users' next request, and is recorded in the audit log with the
//! administrator who made it (`GET /admin/audit`). Disable with
//! `admin.endpoints = false`.

use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::accounts::{
    Accounts, Actor, ApiKey, AuditEntry, AuditQuery, Event, LiveSession, Permission, Role, User,
};
use crate::error::{Error, Result};
use crate::plugin;
use crate::web::AppState;
use crate::web::ClientAddr;
use crate::web::guard::CurrentUser;

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

/// A new account, made by an administrator.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NewUser {
    /// The account's e-mail.
    #[schemars(email)]
    email: String,
    /// At least `auth.password_min_length` characters (8 by default).
    #[schemars(extend("x-xcore-new-password" = true))]
    password: String,
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

/// A page of the audit log, optionally for one user or one event.
#[derive(Deserialize, JsonSchema)]
struct AuditParams {
    /// Page number, from 1.
    #[serde(default = "first_page")]
    page: u32,
    /// Records per page (at most 200).
    #[serde(default = "default_per_page")]
    per_page: u32,
    /// Only records where this user acted or was acted on.
    #[serde(default)]
    user: Option<i64>,
    /// Only this event (`login_failed`, `role_granted`, …).
    #[serde(default)]
    event: Option<Event>,
}

/// One page of the audit log, newest first.
#[derive(Serialize, JsonSchema)]
struct AuditPage {
    items: Vec<AuditEntry>,
    page: u32,
    per_page: u32,
    total: i64,
}

/// The accounts, acting for the signed-in administrator at their address,
/// so the audit log names who changed what: the extractor of every
/// changing route.
struct Acting(Accounts);

impl FromRequestParts<AppState> for Acting {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let admin = CurrentUser::from_request_parts(parts, state).await?;
        let Ok(client) = ClientAddr::from_request_parts(parts, state).await;
        let id = admin
            .id()
            .parse()
            .map_err(|_| Error::BadRequest("this token does not belong to an account".into()))?;
        Ok(Acting(
            state
                .accounts()
                .acting(Actor::user(id).from_address(client.0)),
        ))
    }
}

/// One page of users.
#[derive(Serialize, JsonSchema)]
struct Page {
    items: Vec<User>,
    page: u32,
    per_page: u32,
    total: i64,
}

#[plugin(name = "admin", version = "1.0.0", prefix = "/admin", tags = ["admin"],
         description = "Roles, permissions and their assignment")]
impl Admin {
    /// Every role with its permissions.
    #[route(get, "/roles", auth = "admin")]
    async fn roles(State(state): State<AppState>) -> Result<Json<Vec<Role>>> {
        Ok(Json(state.accounts().access().roles().await?))
    }

    /// Creates a role: 201, 409 if it exists.
    #[route(post, "/roles", auth = "admin", status = 201)]
    async fn create_role(
        Acting(accounts): Acting,
        Json(body): Json<NewName>,
    ) -> Result<Json<Role>> {
        let description = body.description.as_deref();
        accounts
            .access()
            .create_role(&body.name, description)
            .await
            .map(Json)
    }

    /// Deletes a role (not `admin`): its holders lose it on their next request.
    #[route(delete, "/roles/{name}", auth = "admin", status = 204)]
    async fn delete_role(Acting(accounts): Acting, Path(name): Path<String>) -> Result<()> {
        accounts.access().delete_role(&name).await
    }

    /// Every permission.
    #[route(get, "/permissions", auth = "admin")]
    async fn permissions(State(state): State<AppState>) -> Result<Json<Vec<Permission>>> {
        Ok(Json(state.accounts().access().permissions().await?))
    }

    /// Creates a permission: 201, 409 if it exists.
    #[route(post, "/permissions", auth = "admin", status = 201)]
    async fn create_permission(
        Acting(accounts): Acting,
        Json(body): Json<NewName>,
    ) -> Result<Json<Permission>> {
        let description = body.description.as_deref();
        accounts
            .access()
            .create_permission(&body.name, description)
            .await
            .map(Json)
    }

    /// Deletes a permission: users holding it through a role lose it.
    #[route(delete, "/permissions/{name}", auth = "admin", status = 204)]
    async fn delete_permission(Acting(accounts): Acting, Path(name): Path<String>) -> Result<()> {
        accounts.access().delete_permission(&name).await
    }

    /// Grants a permission to a role (idempotent).
    #[route(
        put,
        "/roles/{role}/permissions/{permission}",
        auth = "admin",
        status = 204
    )]
    async fn grant_permission(
        Acting(accounts): Acting,
        Path((role, permission)): Path<(String, String)>,
    ) -> Result<()> {
        accounts.access().grant_permission(&role, &permission).await
    }

    /// Takes a permission from a role (idempotent).
    #[route(
        delete,
        "/roles/{role}/permissions/{permission}",
        auth = "admin",
        status = 204
    )]
    async fn revoke_permission(
        Acting(accounts): Acting,
        Path((role, permission)): Path<(String, String)>,
    ) -> Result<()> {
        accounts
            .access()
            .revoke_permission(&role, &permission)
            .await
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
        let (total, ids) = accounts.users().page(page, per_page).await?;
        let mut items = Vec::with_capacity(ids.len());
        for id in ids {
            items.push(accounts.user(id).await?);
        }
        Ok(Json(Page {
            items,
            page,
            per_page,
            total,
        }))
    }

    /// Creates an account (whether or not `auth.registration` is open):
    /// 201 with the user, 409 if the e-mail exists, 422 for an invalid
    /// e-mail or a too-short password. The administrator vouches for the
    /// address: it counts as verified.
    #[route(post, "/users", auth = "admin", status = 201)]
    async fn create_user(
        Acting(accounts): Acting,
        Json(body): Json<NewUser>,
    ) -> Result<Json<User>> {
        let user = accounts.register(&body.email, &body.password).await?;
        accounts.mark_verified(user.id).await?;
        Ok(Json(accounts.user(user.id).await?))
    }

    /// Gives a role to a user (idempotent); effective on their next request.
    #[route(put, "/users/{id}/roles/{role}", auth = "admin", status = 204)]
    async fn grant_role(
        Acting(accounts): Acting,
        Path((id, role)): Path<(i64, String)>,
    ) -> Result<()> {
        accounts.access().grant_role(id, &role).await
    }

    /// Turns a user's TOTP off without a code (a lost authenticator) and
    /// ends their sessions; they sign in again with their password.
    #[route(delete, "/users/{id}/totp", auth = "admin", status = 204)]
    async fn reset_totp(Acting(accounts): Acting, Path(id): Path<i64>) -> Result<()> {
        accounts.totp_reset(id).await
    }

    /// A user's API keys, newest first, without their secrets (with their
    /// last use): 404 for an unknown user.
    #[route(get, "/users/{id}/api-keys", auth = "admin")]
    async fn user_api_keys(
        State(state): State<AppState>,
        Path(id): Path<i64>,
    ) -> Result<Json<Vec<ApiKey>>> {
        let accounts = state.accounts();
        accounts.users().require(id).await?;
        Ok(Json(accounts.api_keys().list(id).await?))
    }

    /// Revokes one of a user's API keys: it fails on the next request, on
    /// every instance. 404 when the user has no such key.
    #[route(delete, "/users/{id}/api-keys/{key}", auth = "admin", status = 204)]
    async fn revoke_user_api_key(
        Acting(accounts): Acting,
        Path((id, key)): Path<(i64, String)>,
    ) -> Result<()> {
        accounts.revoke_api_key(id, &key).await
    }

    /// A user's live sessions, newest first: 404 for an unknown user.
    #[route(get, "/users/{id}/sessions", auth = "admin")]
    async fn user_sessions(
        State(state): State<AppState>,
        Path(id): Path<i64>,
    ) -> Result<Json<Vec<LiveSession>>> {
        let accounts = state.accounts();
        accounts.users().require(id).await?;
        Ok(Json(accounts.sessions().live_of(id).await?))
    }

    /// Ends one of a user's sessions: its tokens stop working on the next
    /// request. 404 when the user has no such session.
    #[route(delete, "/users/{id}/sessions/{session}", auth = "admin", status = 204)]
    async fn end_user_session(
        Acting(accounts): Acting,
        Path((id, session)): Path<(i64, String)>,
    ) -> Result<()> {
        accounts.revoke_session(id, &session).await
    }

    /// Ends every session of a user (and, with
    /// `auth.revoke_api_keys_with_sessions`, every API key): 404 for an
    /// unknown user.
    #[route(delete, "/users/{id}/sessions", auth = "admin", status = 204)]
    async fn end_user_sessions(Acting(accounts): Acting, Path(id): Path<i64>) -> Result<()> {
        accounts.users().require(id).await?;
        accounts.revoke_sessions(id, None).await
    }

    /// Takes a role from a user (idempotent); the last admin keeps theirs (409).
    #[route(delete, "/users/{id}/roles/{role}", auth = "admin", status = 204)]
    async fn revoke_role(
        Acting(accounts): Acting,
        Path((id, role)): Path<(i64, String)>,
    ) -> Result<()> {
        accounts.access().revoke_role(id, &role).await
    }

    /// The audit log, newest first, a page at a time (`?page=1&per_page=50`,
    /// at most 200), optionally for one user (`?user=7`, as actor or
    /// subject) or one event (`?event=login_failed`).
    #[route(get, "/audit", auth = "admin")]
    async fn audit(
        State(state): State<AppState>,
        Query(params): Query<AuditParams>,
    ) -> Result<Json<AuditPage>> {
        let mut query = AuditQuery::page(params.page.max(1), params.per_page.clamp(1, 200));
        query.user = params.user;
        query.event = params.event;
        let (total, items) = state.accounts().audit().page(&query).await?;
        Ok(Json(AuditPage {
            items,
            page: query.page,
            per_page: query.per_page,
            total,
        }))
    }
}
