//! The built-in `/auth` plugin: register, log in, refresh, log out, change
//! the password, read oneself. Disable with `auth.endpoints = false`.

use axum::Form;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use axum::response::Response;
use serde::Deserialize;

use super::store::{TokenPair, User};
use crate::prelude::*;

/// The built-in authentication endpoints, mounted under `/auth`.
pub struct Auth;

/// Body of `POST /auth/register` and of a JSON login.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    email: String,
    password: String,
}

/// The OAuth2 password grant form (`username` is the e-mail).
#[derive(Deserialize)]
struct PasswordForm {
    username: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    refresh_token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

#[derive(serde::Serialize)]
struct Registered {
    id: i64,
    email: String,
}

fn user_id(user: &CurrentUser) -> Result<i64> {
    user.id()
        .parse()
        .map_err(|_| Error::BadRequest("this token does not belong to an account".into()))
}

#[plugin(name = "auth", version = "1.0.0", prefix = "/auth", tags = ["auth"],
         description = "Accounts: registration, login, refresh, logout",
         migrations = "migrations/auth")]
impl Auth {
    /// Creates an account: 201 `{id, email}`, 409 if the e-mail exists,
    /// 422 for an invalid e-mail or a too-short password.
    #[route(post, "/register")]
    async fn register(
        State(state): State<AppState>,
        Json(body): Json<Credentials>,
    ) -> Result<(StatusCode, Json<Registered>)> {
        let user = state
            .accounts()
            .register(&body.email, &body.password)
            .await?;
        Ok((
            StatusCode::CREATED,
            Json(Registered {
                id: user.id,
                email: user.email,
            }),
        ))
    }

    /// Logs in with JSON `{email, password}` or the OAuth2 password form
    /// (`username`, `password`): a token pair.
    #[route(post, "/login")]
    async fn login(
        State(state): State<AppState>,
        request: Request,
    ) -> std::result::Result<Json<TokenPair>, Response> {
        let form = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let (email, password) = if form {
            let Form(form) = Form::<PasswordForm>::from_request(request, &())
                .await
                .map_err(IntoResponse::into_response)?;
            (form.username, form.password)
        } else {
            let Json(json) = Json::<Credentials>::from_request(request, &())
                .await
                .map_err(IntoResponse::into_response)?;
            (json.email, json.password)
        };
        let pair = state
            .accounts()
            .login(&email, &password)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Json(pair))
    }

    /// Exchanges a refresh token for a new pair; the used one dies, and
    /// using it again revokes the session.
    #[route(post, "/refresh")]
    async fn refresh(
        State(state): State<AppState>,
        Json(body): Json<RefreshBody>,
    ) -> Result<Json<TokenPair>> {
        Ok(Json(state.accounts().refresh(&body.refresh_token).await?))
    }

    /// Ends this session: its access and refresh tokens stop working.
    #[route(post, "/logout", auth)]
    async fn logout(State(state): State<AppState>, user: CurrentUser) -> Result<StatusCode> {
        let id = user_id(&user)?;
        let session = user
            .claims()
            .sid
            .as_deref()
            .ok_or_else(|| Error::BadRequest("this token has no session to end".into()))?;
        state.accounts().revoke_session(id, session).await?;
        Ok(StatusCode::NO_CONTENT)
    }

    /// Ends every session of the user.
    #[route(post, "/logout-all", auth)]
    async fn logout_all(State(state): State<AppState>, user: CurrentUser) -> Result<StatusCode> {
        state
            .accounts()
            .revoke_sessions(user_id(&user)?, None)
            .await?;
        Ok(StatusCode::NO_CONTENT)
    }

    /// The signed-in user: `{id, email, roles, permissions}` from the database.
    #[route(get, "/me", auth)]
    async fn me(State(state): State<AppState>, user: CurrentUser) -> Result<Json<User>> {
        Ok(Json(state.accounts().user(user_id(&user)?).await?))
    }

    /// Changes the password (the current one is required); other sessions end.
    #[route(post, "/password", auth)]
    async fn password(
        State(state): State<AppState>,
        user: CurrentUser,
        Json(body): Json<PasswordChange>,
    ) -> Result<StatusCode> {
        let session = user.claims().sid.clone();
        state
            .accounts()
            .change_password(
                user_id(&user)?,
                session.as_deref(),
                &body.current_password,
                &body.new_password,
            )
            .await?;
        Ok(StatusCode::NO_CONTENT)
    }
}
