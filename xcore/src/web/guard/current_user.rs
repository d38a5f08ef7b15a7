use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::http::{Extensions, HeaderMap, header, request::Parts};

use crate::accounts::KEY_PREFIX;
use crate::error::{AuthFailure, Error};
use crate::security::Claims;
use crate::web::{AppState, client_addr_of};

/// The signed-in user, taken from a verified bearer token, or from an API
/// key (`Authorization: Bearer xk_…` or `X-API-Key: xk_…`), which acts for
/// its owner with at most the owner's rights ([`CurrentUser::api_key`]
/// says which key).
///
/// As an extractor it answers 401 when the token is missing or invalid;
/// `Option<CurrentUser>` gives `None` when no token was sent, and still 401
/// when a token was sent but is invalid (a bad token is never silently
/// treated as anonymous).
///
/// ```
/// use xcore::prelude::*;
///
/// async fn me(user: CurrentUser) -> String {
///     format!("user {} with roles {:?}", user.id(), user.roles())
/// }
///
/// async fn greeting(user: Option<CurrentUser>) -> String {
///     match user {
///         Some(user) => format!("hello {}", user.id()),
///         None => "hello stranger".to_owned(),
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct CurrentUser {
    claims: Arc<Claims>,
    api_key: Option<Arc<str>>,
    /// An API key created with a list of permissions (see
    /// [`CurrentUser::is_scoped_key`]).
    scoped: bool,
}

/// The header an API key may come in instead of `Authorization`.
const API_KEY_HEADER: &str = "x-api-key";

/// Whether a request carries a credential the guard reads (a bearer token
/// or an API key, in either header): what decides that a request is not
/// anonymous, for the guard and for the response cache's shared entries
/// alike.
pub(crate) fn carries_credentials(headers: &HeaderMap) -> bool {
    headers.contains_key(header::AUTHORIZATION) || headers.contains_key(API_KEY_HEADER)
}

/// The recipient of a one-time code: `otp.send_to(&user)`. Here, not in
/// `otp`, so the services never import the guard.
impl From<&CurrentUser> for crate::otp::OtpRecipient {
    fn from(user: &CurrentUser) -> Self {
        crate::otp::OtpRecipient::new(user.id(), user.email().map(str::to_owned))
    }
}

impl CurrentUser {
    /// Wraps verified claims.
    pub fn from_claims(claims: Claims) -> Self {
        CurrentUser::from_shared(Arc::new(claims))
    }

    fn from_shared(claims: Arc<Claims>) -> Self {
        CurrentUser {
            claims,
            api_key: None,
            scoped: false,
        }
    }

    /// The id of the API key the request came with, `None` for a token.
    pub fn api_key(&self) -> Option<&str> {
        self.api_key.as_deref()
    }

    /// Whether the request came with an API key created with a list of
    /// permissions. Such a key reaches only routes whose guard names one of
    /// them (and that it holds): not routes open to any signed-in user, nor
    /// public routes that read the user.
    pub fn is_scoped_key(&self) -> bool {
        self.scoped
    }

    /// The user's id (the token's subject).
    pub fn id(&self) -> &str {
        &self.claims.sub
    }

    /// The user's e-mail, when the token carries it.
    pub fn email(&self) -> Option<&str> {
        self.claims.email.as_deref()
    }

    /// The user's roles.
    pub fn roles(&self) -> &[String] {
        &self.claims.roles
    }

    /// The user's permissions.
    pub fn permissions(&self) -> &[String] {
        &self.claims.permissions
    }

    /// Whether the user has `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.claims.roles.iter().any(|r| r == role)
    }

    /// Whether the user has `permission`.
    pub fn has_permission(&self, permission: &str) -> bool {
        self.claims.permissions.iter().any(|p| p == permission)
    }

    /// All verified claims of the token.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// [`CurrentUser::authenticate`] when it needs no waiting (a bearer
    /// token whose user's version is in process); `None` otherwise.
    pub(crate) fn authenticate_now(
        headers: &HeaderMap,
        state: &AppState,
    ) -> Option<Result<Self, Error>> {
        if headers.contains_key(API_KEY_HEADER) {
            return None;
        }
        let token = match bearer_token(headers) {
            Ok(token) => token,
            Err(failure) => return Some(Err(Error::Unauthorized(failure))),
        };
        if token.starts_with(KEY_PREFIX) {
            return None;
        }
        Some(
            state
                .accounts()
                .authenticate_now(token)?
                .map(CurrentUser::from_shared),
        )
    }

    /// Verifies the API key or the bearer token of a request, then the
    /// token's session (`extensions` tell the client's address, recorded
    /// with a key's use).
    pub(crate) async fn authenticate(
        headers: &HeaderMap,
        extensions: &Extensions,
        state: &AppState,
    ) -> Result<Self, Error> {
        let key = match headers.get(API_KEY_HEADER) {
            Some(value) => Some(
                value
                    .to_str()
                    .map_err(|_| Error::Unauthorized(AuthFailure::Invalid))?
                    .trim(),
            ),
            None => None,
        };
        let key = match key {
            Some(key) => key,
            None => {
                let token = bearer_token(headers).map_err(Error::Unauthorized)?;
                if !token.starts_with(KEY_PREFIX) {
                    let claims = state.accounts().authenticate(token).await?;
                    return Ok(CurrentUser::from_shared(claims));
                }
                token
            }
        };
        let http = &state.config().http;
        let from = client_addr_of(
            extensions,
            headers,
            &http.trusted_proxies,
            http.forwarded_header,
        );
        let holder = state.accounts().api_keys().holder(key, from.0).await?;
        // What a guard judges, read now from the owner's rights: a role
        // change or a revocation holds on the next request.
        let mut claims = Claims::new(holder.user.to_string(), Duration::ZERO)
            .with_email(holder.email)
            .with_roles(holder.roles)
            .with_permissions(holder.permissions);
        claims.jti = holder.id.clone();
        Ok(CurrentUser {
            claims: Arc::new(claims),
            api_key: Some(holder.id.into()),
            scoped: holder.scoped,
        })
    }
}

/// The 403 of a scoped API key on a route whose guard names none of its
/// permissions.
pub(crate) fn scoped_key_refused() -> Error {
    Error::Forbidden(
        "this API key is limited to its permissions, and this route's guard names none of them"
            .into(),
    )
}

/// The token of an `Authorization: Bearer <token>` header (scheme matched
/// case-insensitively, RFC 6750 §2.1).
///
/// ```
/// use xcore::http::{HeaderMap, HeaderValue, header};
///
/// let mut headers = HeaderMap::new();
/// headers.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer abc.def.ghi"));
/// assert_eq!(xcore::guard::bearer_token(&headers), Ok("abc.def.ghi"));
/// ```
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthFailure> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(AuthFailure::Missing)?
        .to_str()
        .map_err(|_| AuthFailure::Invalid)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthFailure::Invalid)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthFailure::Missing);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthFailure::Invalid);
    }
    Ok(token)
}

impl<S> FromRequestParts<S> for CurrentUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // A guard in front of the handler has already verified the token.
        if let Some(user) = parts.extensions.get::<CurrentUser>() {
            return Ok(user.clone());
        }
        let state = AppState::from_ref(state);
        let user = CurrentUser::authenticate(&parts.headers, &parts.extensions, &state).await?;
        // No guard ran, so none named a permission: not for a scoped key.
        if user.is_scoped_key() {
            return Err(scoped_key_refused());
        }
        Ok(user)
    }
}

impl<S> OptionalFromRequestParts<S> for CurrentUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        if parts.extensions.get::<CurrentUser>().is_none() && !carries_credentials(&parts.headers) {
            return Ok(None);
        }
        <CurrentUser as FromRequestParts<S>>::from_request_parts(parts, state)
            .await
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn bearer_token_parsing() {
        assert_eq!(bearer_token(&HeaderMap::new()), Err(AuthFailure::Missing));
        assert_eq!(bearer_token(&headers("Bearer a.b.c")), Ok("a.b.c"));
        assert_eq!(bearer_token(&headers("BEARER  a.b.c ")), Ok("a.b.c"));
        assert_eq!(bearer_token(&headers("Bearer ")), Err(AuthFailure::Invalid));
        assert_eq!(bearer_token(&headers("Bearer")), Err(AuthFailure::Invalid));
        assert_eq!(
            bearer_token(&headers("Basic dXNlcjpwYXNz")),
            Err(AuthFailure::Missing)
        );
    }
}
