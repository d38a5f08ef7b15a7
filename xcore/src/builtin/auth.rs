//! The built-in `/auth` plugin: register, log in, refresh, log out, change
//! the password, read oneself, one-time codes and TOTP. Disable with
//! `auth.endpoints = false`.

use axum::extract::{FromRequest, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::accounts::{LoginOutcome, TokenPair, TotpSetup, User};
use crate::error::{Error, Result};
use crate::guard::CurrentUser;
use crate::openapi::{Operation, OperationInput};
use crate::otp::{Otp, OtpCheck, OtpRecipient};
use crate::plugin;
use crate::state::AppState;

/// The built-in authentication endpoints, mounted under `/auth`.
pub struct Auth;

/// An e-mail and a password.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Credentials {
    /// The account's e-mail (compared without regard to case).
    email: String,
    /// At least `auth.password_min_length` characters (8 by default).
    password: String,
}

/// The OAuth2 password grant form (`username` is the e-mail).
#[derive(Deserialize, JsonSchema)]
struct PasswordForm {
    /// The account's e-mail.
    username: String,
    password: String,
}

/// The body of a login: JSON [`Credentials`] or the OAuth2 password form,
/// chosen by `Content-Type`.
struct Login {
    email: String,
    password: String,
}

impl<S: Send + Sync> FromRequest<S> for Login {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> std::result::Result<Self, Response> {
        let form = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if form {
            let Form(form) = Form::<PasswordForm>::from_request(request, state)
                .await
                .map_err(IntoResponse::into_response)?;
            Ok(Login {
                email: form.username,
                password: form.password,
            })
        } else {
            let Json(json) = Json::<Credentials>::from_request(request, state)
                .await
                .map_err(IntoResponse::into_response)?;
            Ok(Login {
                email: json.email,
                password: json.password,
            })
        }
    }
}

impl OperationInput for Login {
    fn describe(op: &mut Operation<'_>) {
        op.input::<Json<Credentials>>()
            .input::<Form<PasswordForm>>();
    }
}

/// A refresh token from a login or an earlier refresh.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    refresh_token: String,
}

/// The current password and the new one.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    current_password: String,
    /// At least `auth.password_min_length` characters (8 by default).
    new_password: String,
}

/// A one-time or TOTP code.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CodeBody {
    code: String,
}

/// The second step of a login with TOTP on.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct MfaBody {
    /// From the first step's answer.
    mfa_token: String,
    /// The authenticator app's current code.
    code: String,
}

/// A code was sent.
#[derive(serde::Serialize, JsonSchema)]
struct Sent {
    /// Seconds the code stays valid.
    expires_in: u64,
}

/// The code was right.
#[derive(serde::Serialize, JsonSchema)]
struct Verified {
    /// Always `true`.
    verified: bool,
}

/// The new account.
#[derive(serde::Serialize, JsonSchema)]
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
         description = "Accounts: registration, login, refresh, logout")]
impl Auth {
    /// Creates an account: 201 `{id, email}`, 409 if the e-mail exists,
    /// 422 for an invalid e-mail or a too-short password.
    #[route(post, "/register", status = 201)]
    async fn register(
        State(state): State<AppState>,
        Json(body): Json<Credentials>,
    ) -> Result<Json<Registered>> {
        let user = state
            .accounts()
            .register(&body.email, &body.password)
            .await?;
        Ok(Json(Registered {
            id: user.id,
            email: user.email,
        }))
    }

    /// Logs in with JSON `{email, password}` or the OAuth2 password form
    /// (`username`, `password`): a token pair.
    #[route(post, "/login")]
    async fn login(State(state): State<AppState>, login: Login) -> Result<Json<LoginOutcome>> {
        Ok(Json(
            state
                .accounts()
                .login(&login.email, &login.password)
                .await?,
        ))
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
    #[route(post, "/logout", auth, status = 204)]
    async fn logout(State(state): State<AppState>, user: CurrentUser) -> Result<()> {
        let id = user_id(&user)?;
        let session = user
            .claims()
            .sid
            .as_deref()
            .ok_or_else(|| Error::BadRequest("this token has no session to end".into()))?;
        state.accounts().revoke_session(id, session).await?;
        Ok(())
    }

    /// Ends every session of the user.
    #[route(post, "/logout-all", auth, status = 204)]
    async fn logout_all(State(state): State<AppState>, user: CurrentUser) -> Result<()> {
        state
            .accounts()
            .revoke_sessions(user_id(&user)?, None)
            .await?;
        Ok(())
    }

    /// The signed-in user: `{id, email, roles, permissions}` from the database.
    #[route(get, "/me", auth)]
    async fn me(State(state): State<AppState>, user: CurrentUser) -> Result<Json<User>> {
        Ok(Json(state.accounts().user(user_id(&user)?).await?))
    }

    /// Changes the password (the current one is required); other sessions end.
    #[route(post, "/password", auth, status = 204)]
    async fn password(
        State(state): State<AppState>,
        user: CurrentUser,
        Json(body): Json<PasswordChange>,
    ) -> Result<()> {
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
        Ok(())
    }

    /// Completes the login of an account with TOTP on: `{mfa_token, code}`
    /// gives the token pair. Wrong codes count towards the login throttle.
    #[route(post, "/login/totp")]
    async fn login_totp(
        State(state): State<AppState>,
        Json(body): Json<MfaBody>,
    ) -> Result<Json<TokenPair>> {
        Ok(Json(
            state
                .accounts()
                .login_totp(&body.mfa_token, &body.code)
                .await?,
        ))
    }

    /// Sends the user a one-time code through the application's sender: 202.
    #[route(post, "/otp/send", auth, status = 202)]
    async fn otp_send(
        State(state): State<AppState>,
        otp: Otp,
        user: CurrentUser,
    ) -> Result<Json<Sent>> {
        let code = otp.generate(user.id()).await?;
        let to = OtpRecipient::new(user.id(), user.email().map(str::to_owned));
        state.otp_sender().send(&to, &code).await?;
        Ok(Json(Sent {
            expires_in: state.config().otp.ttl_secs,
        }))
    }

    /// Checks the user's one-time code: 200 `{verified: true}`, 400 for a
    /// wrong or expired code, 429 once the attempts are used up.
    #[route(post, "/otp/verify", auth)]
    async fn otp_verify(
        otp: Otp,
        user: CurrentUser,
        Json(body): Json<CodeBody>,
    ) -> Result<Json<Verified>> {
        match otp.check(user.id(), &body.code).await? {
            OtpCheck::Valid => Ok(Json(Verified { verified: true })),
            OtpCheck::Invalid => Err(Error::BadRequest("wrong or expired code".into())),
            OtpCheck::Exhausted => Err(Error::TooManyRequests {
                retry_after_secs: 1,
            }),
        }
    }

    /// Starts TOTP setup: `{secret, otpauth_uri, qr_png_base64}`, shown
    /// once; confirm with a first code to turn it on.
    #[route(post, "/totp/setup", auth)]
    async fn totp_setup(
        State(state): State<AppState>,
        user: CurrentUser,
    ) -> Result<Json<TotpSetup>> {
        let id = user_id(&user)?;
        let accounts = state.accounts();
        let email = accounts.users().email(id).await?;
        Ok(Json(accounts.two_factor().setup(id, &email).await?))
    }

    /// Turns TOTP on with a first valid code: 204; 400 for a wrong code.
    #[route(post, "/totp/confirm", auth, status = 204)]
    async fn totp_confirm(
        State(state): State<AppState>,
        user: CurrentUser,
        Json(body): Json<CodeBody>,
    ) -> Result<()> {
        state
            .accounts()
            .two_factor()
            .confirm(user_id(&user)?, &body.code)
            .await?;
        Ok(())
    }

    /// Turns TOTP off, given a valid code: 204.
    #[route(delete, "/totp", auth, status = 204)]
    async fn totp_disable(
        State(state): State<AppState>,
        user: CurrentUser,
        Json(body): Json<CodeBody>,
    ) -> Result<()> {
        state
            .accounts()
            .two_factor()
            .disable(user_id(&user)?, &body.code)
            .await?;
        Ok(())
    }
}
