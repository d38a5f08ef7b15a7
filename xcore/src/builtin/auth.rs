//! The built-in `/auth` plugin: register, log in, refresh, log out, change
//! or reset the password, verify the e-mail address, read oneself,
//! one-time codes and TOTP. Disable with `auth.endpoints = false`.

use axum::extract::{FromRequest, Path, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use schemars::JsonSchema;
use serde::Deserialize;

use super::no_store::NoStore;
use crate::accounts::{
    Accounts, Actor, ApiKey, LoginOutcome, NewApiKey, RecoveryCodes, TokenPair, TotpSetup, User,
};
use crate::error::{Error, Result};
use crate::openapi::{Operation, OperationInput};
use crate::otp::{Otp, OtpCheck, OtpRecipient};
use crate::plugin;
use crate::web::AppState;
use crate::web::ClientAddr;
use crate::web::guard::CurrentUser;

/// The built-in authentication endpoints, mounted under `/auth`.
pub struct Auth;

/// An e-mail and a password.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Credentials {
    /// The account's e-mail (compared without regard to case).
    #[schemars(email)]
    email: String,
    password: String,
}

/// A new account's e-mail and password.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NewAccount {
    /// The account's e-mail (compared without regard to case).
    #[schemars(email)]
    email: String,
    /// At least `auth.password_min_length` characters (8 by default).
    #[schemars(extend("x-xcore-new-password" = true))]
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
    #[schemars(extend("x-xcore-new-password" = true))]
    new_password: String,
}

/// Who forgot their password.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ForgotBody {
    /// The account's e-mail.
    #[schemars(email)]
    email: String,
}

/// The token of a password-reset link and the new password.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ResetBody {
    /// The `token` of the link the e-mail held.
    token: String,
    /// At least `auth.password_min_length` characters (8 by default).
    #[schemars(extend("x-xcore-new-password" = true))]
    new_password: String,
}

/// The token of a verification link.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    /// The `token` of the link the e-mail held.
    token: String,
}

/// A new API key, confirmed with the password (and a current code when
/// TOTP is on).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ApiKeyBody {
    /// What the key is for (1 to 100 characters).
    name: String,
    /// The account's current password.
    password: String,
    /// The authenticator app's current code: required when TOTP is on.
    code: Option<String>,
    /// Limit the key to these permissions (each held by you); without it,
    /// the key carries your roles and permissions as they are.
    permissions: Option<Vec<String>>,
    /// Days the key works, at most `auth.api_key_max_days` (365 by
    /// default); without it, `auth.api_key_default_days` (90).
    expires_in_days: Option<u32>,
}

/// A one-time or TOTP code.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CodeBody {
    code: String,
}

/// The second step of a login with TOTP on: the authenticator's code, or
/// one of the recovery codes.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct MfaBody {
    /// From the first step's answer.
    mfa_token: String,
    /// The authenticator app's current code.
    code: Option<String>,
    /// One of the account's recovery codes, in place of `code`.
    recovery_code: Option<String>,
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

/// A password, to confirm a change of the second factor.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    /// The account's current password.
    password: String,
}

/// The password and a current code, to turn the second factor off or
/// replace the recovery codes.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct DisableTotp {
    /// The account's current password.
    password: String,
    /// The authenticator app's current code.
    code: String,
}

fn user_id(user: &CurrentUser) -> Result<i64> {
    user.id()
        .parse()
        .map_err(|_| Error::BadRequest("this token does not belong to an account".into()))
}

/// The accounts, acting for an anonymous client at `client`.
fn from_client(state: &AppState, client: ClientAddr) -> Accounts {
    state
        .accounts()
        .acting(Actor::default().from_address(client.0))
}

/// The accounts, acting for the signed-in `user` at `client`.
fn as_user(state: &AppState, user: &CurrentUser, client: ClientAddr) -> Result<(Accounts, i64)> {
    let id = user_id(user)?;
    Ok((
        state
            .accounts()
            .acting(Actor::user(id).from_address(client.0)),
        id,
    ))
}

/// The accounts, acting for `user` at `client` on an endpoint that manages
/// the account itself (password, API keys, second factor, every session):
/// a session's access token only. An API key gets a 403, so a leaked key
/// can neither mint more keys, keep itself alive past a password change,
/// nor take the account over.
fn in_session(state: &AppState, user: &CurrentUser, client: ClientAddr) -> Result<(Accounts, i64)> {
    if user.api_key().is_some() {
        return Err(Error::Forbidden(
            "this endpoint manages the account: it needs a signed-in session, not an API key"
                .into(),
        ));
    }
    as_user(state, user, client)
}

#[plugin(name = "auth", version = "1.0.0", prefix = "/auth", tags = ["auth"],
         description = "Accounts: registration, login, refresh, logout")]
impl Auth {
    /// Creates an account: 201 `{id, email}`, 409 if the e-mail exists,
    /// 422 for an invalid e-mail or a too-short password, 403 when
    /// `auth.registration = false` (accounts then come from an
    /// administrator or `create-admin`). A verification link goes to the
    /// address (a failure to send it is logged, not answered: the user can
    /// ask again).
    #[route(post, "/register", status = 201)]
    #[rate_limit(5, per = "minute", key = ip, fail = "closed")]
    #[rate_limit(50, per = "day", key = ip, fail = "closed")]
    async fn register(
        State(state): State<AppState>,
        client: ClientAddr,
        Json(body): Json<NewAccount>,
    ) -> Result<Json<Registered>> {
        if !state.config().auth.registration {
            return Err(crate::error::Error::Forbidden(
                "registration is closed".into(),
            ));
        }
        let accounts = from_client(&state, client);
        let user = accounts.register(&body.email, &body.password).await?;
        if let Err(err) = accounts.send_verification(user.id).await {
            tracing::warn!(error = %err, user = user.id, "verification e-mail not sent");
        }
        Ok(Json(Registered {
            id: user.id,
            email: user.email,
        }))
    }

    /// Logs in with JSON `{email, password}` or the OAuth2 password form
    /// (`username`, `password`): a token pair. Too many failures for the
    /// account or from the client's address give a 429 before any
    /// password is checked.
    #[route(post, "/login")]
    #[rate_limit(20, per = "minute", key = ip, fail = "closed")]
    async fn login(
        State(state): State<AppState>,
        client: ClientAddr,
        login: Login,
    ) -> Result<NoStore<Json<LoginOutcome>>> {
        Ok(NoStore(Json(
            from_client(&state, client)
                .login(&login.email, &login.password)
                .await?,
        )))
    }

    /// Exchanges a refresh token for a new pair; the used one dies, and
    /// using it again revokes the session.
    #[route(post, "/refresh")]
    #[rate_limit(60, per = "minute", key = ip, fail = "closed")]
    async fn refresh(
        State(state): State<AppState>,
        client: ClientAddr,
        Json(body): Json<RefreshBody>,
    ) -> Result<NoStore<Json<TokenPair>>> {
        Ok(NoStore(Json(
            from_client(&state, client)
                .refresh(&body.refresh_token)
                .await?,
        )))
    }

    /// Ends this session: its access and refresh tokens stop working.
    #[route(post, "/logout", auth, status = 204)]
    async fn logout(
        State(state): State<AppState>,
        client: ClientAddr,
        user: CurrentUser,
    ) -> Result<()> {
        let (accounts, id) = as_user(&state, &user, client)?;
        let session = user
            .claims()
            .sid
            .as_deref()
            .ok_or_else(|| Error::BadRequest("this token has no session to end".into()))?;
        accounts.revoke_session(id, session).await
    }

    /// Ends every session of the user.
    #[route(post, "/logout-all", auth, status = 204)]
    async fn logout_all(
        State(state): State<AppState>,
        client: ClientAddr,
        user: CurrentUser,
    ) -> Result<()> {
        let (accounts, id) = in_session(&state, &user, client)?;
        accounts.revoke_sessions(id, None).await
    }

    /// The signed-in user: `{id, email, roles, permissions, totp_enabled,
    /// email_verified, recovery_codes_left}` from the database.
    #[route(get, "/me", auth)]
    async fn me(State(state): State<AppState>, user: CurrentUser) -> Result<Json<User>> {
        Ok(Json(state.accounts().user(user_id(&user)?).await?))
    }

    /// Changes the password (the current one is required, and wrong ones
    /// are counted); other sessions end.
    #[route(post, "/password", auth, status = 204)]
    async fn password(
        State(state): State<AppState>,
        client: ClientAddr,
        user: CurrentUser,
        Json(body): Json<PasswordChange>,
    ) -> Result<()> {
        let (accounts, id) = in_session(&state, &user, client)?;
        let session = user.claims().sid.clone();
        accounts
            .change_password(
                id,
                session.as_deref(),
                &body.current_password,
                &body.new_password,
            )
            .await
    }

    /// Asks for a password-reset link: 202 whether or not an account has
    /// this e-mail (and in the same time); when one has, the link goes to
    /// it, valid `auth.password_reset_ttl_secs` (30 minutes). 429 past the
    /// limit of requests per e-mail or per address.
    #[route(post, "/password/forgot", status = 202)]
    #[rate_limit(5, per = "minute", key = ip, fail = "closed")]
    async fn password_forgot(
        State(state): State<AppState>,
        client: ClientAddr,
        Json(body): Json<ForgotBody>,
    ) -> Result<()> {
        from_client(&state, client)
            .forgot_password(&body.email)
            .await
    }

    /// Sets a new password with a reset link's token: 204. The token works
    /// once; every session of the account ends. 400 for an unknown, used or
    /// expired token, 422 for a too-short password.
    #[route(post, "/password/reset", status = 204)]
    #[rate_limit(10, per = "minute", key = ip, fail = "closed")]
    async fn password_reset(
        State(state): State<AppState>,
        client: ClientAddr,
        Json(body): Json<ResetBody>,
    ) -> Result<()> {
        from_client(&state, client)
            .reset_password(&body.token, &body.new_password)
            .await
    }

    /// Verifies the e-mail address with a verification link's token: 204;
    /// 400 for an unknown, used or expired token.
    #[route(post, "/email/verify", status = 204)]
    #[rate_limit(10, per = "minute", key = ip, fail = "closed")]
    async fn email_verify(
        State(state): State<AppState>,
        client: ClientAddr,
        Json(body): Json<TokenBody>,
    ) -> Result<()> {
        from_client(&state, client).verify_email(&body.token).await
    }

    /// Sends the signed-in user a new verification link: 202; 409 when the
    /// address is verified already.
    #[route(post, "/email/verify/send", auth, status = 202)]
    #[rate_limit(3, per = "minute", key = user, fail = "closed")]
    async fn email_verify_send(
        State(state): State<AppState>,
        client: ClientAddr,
        user: CurrentUser,
    ) -> Result<()> {
        let (accounts, id) = as_user(&state, &user, client)?;
        accounts.send_verification(id).await
    }

    /// Creates an API key, given the password (and the authenticator's
    /// current code when TOTP is on): 201 with the key, shown this once.
    /// Only a signed-in session creates keys (403 with a key); 403 for a
    /// wrong password, 400 for a wrong code, 422 for a permission you do
    /// not hold or a lifetime past `auth.api_key_max_days`.
    #[route(post, "/api-keys", auth, status = 201)]
    async fn create_api_key(
        State(state): State<AppState>,
        client: ClientAddr,
        user: CurrentUser,
        Json(body): Json<ApiKeyBody>,
    ) -> Result<NoStore<Json<NewApiKey>>> {
        let (accounts, id) = in_session(&state, &user, client)?;
        Ok(NoStore(Json(
            accounts
                .create_api_key(
                    id,
                    &body.password,
                    body.code.as_deref(),
                    &body.name,
                    body.permissions,
                    body.expires_in_days,
                )
                .await?,
        )))
    }

    /// The user's API keys, newest first, without their secrets.
    #[route(get, "/api-keys", auth)]
    async fn api_keys(
        State(state): State<AppState>,
        client: ClientAddr,
        user: CurrentUser,
    ) -> Result<Json<Vec<ApiKey>>> {
        let (accounts, id) = in_session(&state, &user, client)?;
        Ok(Json(accounts.api_keys().list(id).await?))
    }

    /// Revokes one of the user's API keys: 204, and the next request with it
    /// is a 401 on every instance; 404 for a key the user does not have.
    #[route(delete, "/api-keys/{id}", auth, status = 204)]
    async fn revoke_api_key(
        State(state): State<AppState>,
        client: ClientAddr,
        user: CurrentUser,
        Path(key): Path<String>,
    ) -> Result<()> {
        let (accounts, id) = in_session(&state, &user, client)?;
        accounts.revoke_api_key(id, &key).await
    }

    /// Completes the login of an account with TOTP on: `{mfa_token, code}`
    /// or `{mfa_token, recovery_code}` gives the token pair (a recovery
    /// code works once). Codes count towards the login limits.
    #[route(post, "/login/totp")]
    #[rate_limit(20, per = "minute", key = ip, fail = "closed")]
    async fn login_totp(
        State(state): State<AppState>,
        client: ClientAddr,
        Json(body): Json<MfaBody>,
    ) -> Result<NoStore<Json<TokenPair>>> {
        let accounts = from_client(&state, client);
        Ok(NoStore(Json(match (&body.code, &body.recovery_code) {
            (Some(code), None) => accounts.login_totp(&body.mfa_token, code).await?,
            (None, Some(recovery)) => {
                accounts
                    .login_recovery_code(&body.mfa_token, recovery)
                    .await?
            }
            _ => {
                return Err(Error::Validation(
                    "give exactly one of `code` and `recovery_code`".into(),
                ));
            }
        })))
    }

    /// Sends the user a one-time code through the application's sender: 202.
    #[route(post, "/otp/send", auth, status = 202)]
    #[rate_limit(3, per = "minute", key = user, fail = "closed")]
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
        State(state): State<AppState>,
        otp: Otp,
        user: CurrentUser,
        client: ClientAddr,
        Json(body): Json<CodeBody>,
    ) -> Result<Json<Verified>> {
        match otp.check(user.id(), &body.code).await? {
            OtpCheck::Valid => Ok(Json(Verified { verified: true })),
            // Audited when the user is an account (a token may name anyone).
            OtpCheck::Invalid => Err(match as_user(&state, &user, client) {
                Ok((accounts, id)) => accounts.wrong_code(id, "otp").await,
                Err(_) => Error::BadRequest("wrong or expired code".into()),
            }),
            OtpCheck::Exhausted => Err(Error::TooManyRequests {
                retry_after_secs: 1,
            }),
        }
    }

    /// Starts TOTP setup, given the password: `{secret, otpauth_uri,
    /// qr_png_base64}`, shown once; confirm with a first code to turn it on.
    #[route(post, "/totp/setup", auth)]
    async fn totp_setup(
        State(state): State<AppState>,
        client: ClientAddr,
        user: CurrentUser,
        Json(body): Json<PasswordBody>,
    ) -> Result<NoStore<Json<TotpSetup>>> {
        let (accounts, id) = in_session(&state, &user, client)?;
        Ok(NoStore(Json(
            accounts.totp_setup(id, &body.password).await?,
        )))
    }

    /// Turns TOTP on with a first valid code: 200 with the ten recovery
    /// codes, shown this once; 400 for a wrong code.
    #[route(post, "/totp/confirm", auth)]
    async fn totp_confirm(
        State(state): State<AppState>,
        client: ClientAddr,
        user: CurrentUser,
        Json(body): Json<CodeBody>,
    ) -> Result<NoStore<Json<RecoveryCodes>>> {
        let (accounts, id) = in_session(&state, &user, client)?;
        Ok(NoStore(Json(accounts.totp_confirm(id, &body.code).await?)))
    }

    /// Replaces the recovery codes, given the password and a current code:
    /// 200 with the ten new ones (the old ones stop working).
    #[route(post, "/totp/recovery-codes", auth)]
    async fn recovery_codes(
        State(state): State<AppState>,
        client: ClientAddr,
        user: CurrentUser,
        Json(body): Json<DisableTotp>,
    ) -> Result<NoStore<Json<RecoveryCodes>>> {
        let (accounts, id) = in_session(&state, &user, client)?;
        Ok(NoStore(Json(
            accounts
                .new_recovery_codes(id, &body.password, &body.code)
                .await?,
        )))
    }

    /// Turns TOTP off, given the password and a valid code: 204.
    #[route(delete, "/totp", auth, status = 204)]
    async fn totp_disable(
        State(state): State<AppState>,
        client: ClientAddr,
        user: CurrentUser,
        Json(body): Json<DisableTotp>,
    ) -> Result<()> {
        let (accounts, id) = in_session(&state, &user, client)?;
        accounts.totp_disable(id, &body.password, &body.code).await
    }
}
