use std::fmt;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::Secret;
use crate::error::{AuthFailure, Error};

/// Seconds of clock skew tolerated on `exp` between instances.
pub(crate) const LEEWAY_SECS: u64 = 5;

/// Shortest HMAC key accepted: RFC 7518 §3.2 asks for a key at least as long
/// as the hash output; 32 bytes covers HS256 and is the floor for all three.
pub const MIN_SECRET_LEN: usize = 32;

/// The signing algorithm, chosen by configuration (`auth.jwt_algorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256 (the default).
    #[default]
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
}

impl JwtAlgorithm {
    fn to_jwt(self) -> Algorithm {
        match self {
            JwtAlgorithm::HS256 => Algorithm::HS256,
            JwtAlgorithm::HS384 => Algorithm::HS384,
            JwtAlgorithm::HS512 => Algorithm::HS512,
        }
    }
}

/// What an access token says about its bearer.
///
/// ```
/// use std::time::Duration;
/// use xcore::security::Claims;
///
/// let claims = Claims::new("42", Duration::from_secs(900))
///     .with_email("ada@example.com")
///     .with_roles(["admin"])
///     .with_permissions(["items:delete"]);
/// assert_eq!(claims.exp - claims.iat, 900);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Subject: the user's id.
    pub sub: String,
    /// The user's e-mail, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Role names.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Permission names.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Issued at (seconds since the Unix epoch).
    pub iat: u64,
    /// Expires at (seconds since the Unix epoch).
    pub exp: u64,
    /// Unique token id.
    pub jti: String,
    /// Session the token belongs to (tokens from `/auth/login`); such tokens
    /// are checked against revocations and role changes on every request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The user's authorisation version when the token was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ver: Option<i64>,
}

impl Claims {
    /// Claims for `subject`, issued now, valid for `ttl`, with a fresh random id.
    pub fn new(subject: impl Into<String>, ttl: Duration) -> Self {
        let iat = crate::clock::now_unsigned();
        Claims {
            sub: subject.into(),
            email: None,
            roles: Vec::new(),
            permissions: Vec::new(),
            iat,
            exp: iat.saturating_add(ttl.as_secs()),
            jti: uuid::Uuid::new_v4().to_string(),
            sid: None,
            ver: None,
        }
    }

    /// Sets the e-mail.
    pub fn with_email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Sets the roles.
    pub fn with_roles<I, R>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: Into<String>,
    {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the permissions.
    pub fn with_permissions<I, P>(mut self, permissions: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        self.permissions = permissions.into_iter().map(Into::into).collect();
        self
    }
}

/// The key material and fixed algorithm used to sign and verify tokens.
///
/// Built once at start-up from the configuration; cheap to share by reference.
///
/// ```
/// use xcore::security::{JwtAlgorithm, JwtKeys, Secret};
///
/// let keys = JwtKeys::new(JwtAlgorithm::HS512, &Secret::from("0123456789abcdef0123456789abcdef")).unwrap();
/// assert_eq!(keys.algorithm(), JwtAlgorithm::HS512);
/// assert!(JwtKeys::hs256(b"too short").is_err());
/// ```
#[derive(Clone)]
pub struct JwtKeys {
    algorithm: JwtAlgorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    audience: String,
    issuer: String,
}

/// The `typ` header of access tokens (RFC 9068): a JWT signed for another
/// purpose, even with the same key, is not accepted as one.
const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// The audience and issuer of tokens made by [`JwtKeys::new`], until
/// [`JwtKeys::for_audience`] says otherwise.
const DEFAULT_AUDIENCE: &str = "xcore";

impl fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtKeys")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl JwtKeys {
    /// Keys for an HMAC algorithm. The secret must be at least 32 bytes.
    pub fn new(algorithm: JwtAlgorithm, secret: &Secret) -> Result<Self, Error> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(Error::Config(format!(
                "the JWT secret must be at least {MIN_SECRET_LEN} bytes long (it has {})",
                secret.len()
            )));
        }
        let mut validation = Validation::new(algorithm.to_jwt());
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.set_required_spec_claims(&["exp", "iat", "sub", "aud", "iss"]);
        let mut keys = JwtKeys {
            algorithm,
            encoding: EncodingKey::from_secret(secret.expose()),
            decoding: DecodingKey::from_secret(secret.expose()),
            validation,
            audience: String::new(),
            issuer: String::new(),
        };
        keys.set_audience(DEFAULT_AUDIENCE, DEFAULT_AUDIENCE);
        Ok(keys)
    }

    /// The same keys for tokens of this audience (`aud`) and issuer (`iss`):
    /// tokens are made with both and accepted only with both. Give each
    /// deployment its own audience, so two deployments sharing a secret
    /// still refuse each other's tokens.
    ///
    /// ```
    /// # use std::time::Duration;
    /// use xcore::security::{Claims, JwtKeys, create_token, decode_token};
    ///
    /// let shop = JwtKeys::hs256(b"a secret both deployments share!!")?.for_audience("shop", "xcore");
    /// let blog = JwtKeys::hs256(b"a secret both deployments share!!")?.for_audience("blog", "xcore");
    /// let token = create_token(&shop, &Claims::new("42", Duration::from_secs(60)))?;
    /// assert!(decode_token(&shop, &token).is_ok());
    /// assert!(decode_token(&blog, &token).is_err());
    /// # Ok::<(), xcore::Error>(())
    /// ```
    pub fn for_audience(mut self, audience: &str, issuer: &str) -> Self {
        self.set_audience(audience, issuer);
        self
    }

    fn set_audience(&mut self, audience: &str, issuer: &str) {
        self.audience = audience.to_owned();
        self.issuer = issuer.to_owned();
        self.validation.set_audience(&[audience]);
        self.validation.set_issuer(&[issuer]);
    }

    /// Shorthand for `JwtKeys::new(JwtAlgorithm::HS256, secret)`.
    pub fn hs256(secret: &[u8]) -> Result<Self, Error> {
        Self::new(JwtAlgorithm::HS256, &Secret::new(secret))
    }

    /// Keys with a fresh random 32-byte secret (tokens die with the process).
    pub fn random(algorithm: JwtAlgorithm) -> Self {
        let bytes: [u8; 32] = rand::random();
        // A 32-byte secret always satisfies the length check.
        Self::new(algorithm, &Secret::new(bytes.to_vec()))
            .unwrap_or_else(|_| unreachable!("32 random bytes meet the minimum length"))
    }

    /// The algorithm every token is signed and verified with.
    pub fn algorithm(&self) -> JwtAlgorithm {
        self.algorithm
    }
}

/// Signs `claims` into a compact JWT.
///
/// ```
/// # use std::time::Duration;
/// # use xcore::security::{Claims, JwtKeys, create_token};
/// let keys = JwtKeys::hs256(b"an example secret of at least 32 bytes!")?;
/// let token = create_token(&keys, &Claims::new("42", Duration::from_secs(60)))?;
/// assert_eq!(token.split('.').count(), 3);
/// # Ok::<(), xcore::Error>(())
/// ```
pub fn create_token(keys: &JwtKeys, claims: &Claims) -> Result<String, Error> {
    /// The claims as signed: with the keys' audience and issuer.
    #[derive(Serialize)]
    struct Signed<'a> {
        #[serde(flatten)]
        claims: &'a Claims,
        aud: &'a str,
        iss: &'a str,
    }
    let mut header = Header::new(keys.algorithm.to_jwt());
    header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
    let signed = Signed {
        claims,
        aud: &keys.audience,
        iss: &keys.issuer,
    };
    jsonwebtoken::encode(&header, &signed, &keys.encoding).map_err(Error::Token)
}

/// Verifies a JWT's signature (with the configured algorithm only) and its
/// `exp`, and returns its claims.
///
/// The error says only whether the token expired or is otherwise invalid: the
/// reason a forgery failed is of no use to a client and of some to an attacker.
///
/// ```
/// # use std::time::Duration;
/// # use xcore::security::{Claims, JwtKeys, create_token, decode_token};
/// # use xcore::AuthFailure;
/// let keys = JwtKeys::hs256(b"an example secret of at least 32 bytes!")?;
/// let other = JwtKeys::hs256(b"another secret, also 32 bytes long")?;
/// let token = create_token(&other, &Claims::new("42", Duration::from_secs(60)))?;
/// assert_eq!(decode_token(&keys, &token), Err(AuthFailure::Invalid));
/// # Ok::<(), xcore::Error>(())
/// ```
pub fn decode_token(keys: &JwtKeys, token: &str) -> Result<Claims, AuthFailure> {
    let data =
        jsonwebtoken::decode::<Claims>(token, &keys.decoding, &keys.validation).map_err(|err| {
            match err.kind() {
                ErrorKind::ExpiredSignature => AuthFailure::Expired,
                _ => AuthFailure::Invalid,
            }
        })?;
    if data.header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
        return Err(AuthFailure::Invalid);
    }
    Ok(data.claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::hs256(b"unit-test secret, long enough for HS256").expect("keys")
    }

    #[test]
    fn round_trip_keeps_claims() {
        let claims = Claims::new("7", Duration::from_secs(60))
            .with_email("a@b.c")
            .with_roles(["admin", "editor"])
            .with_permissions(["items:delete"]);
        let token = create_token(&keys(), &claims).expect("token");
        assert_eq!(decode_token(&keys(), &token), Ok(claims));
    }

    #[test]
    fn expired_token_is_rejected_as_expired() {
        let mut claims = Claims::new("7", Duration::ZERO);
        claims.exp = crate::clock::now_unsigned() - 3600;
        let token = create_token(&keys(), &claims).expect("token");
        assert_eq!(decode_token(&keys(), &token), Err(AuthFailure::Expired));
    }

    #[test]
    fn other_algorithm_is_rejected_even_with_the_right_secret() {
        let secret = Secret::from("unit-test secret, long enough for HS256");
        let hs512 = JwtKeys::new(JwtAlgorithm::HS512, &secret).expect("keys");
        let token =
            create_token(&hs512, &Claims::new("7", Duration::from_secs(60))).expect("token");
        assert_eq!(decode_token(&keys(), &token), Err(AuthFailure::Invalid));
    }

    #[test]
    fn unsigned_and_garbage_tokens_are_invalid() {
        // {"alg":"none","typ":"JWT"} . {"sub":"1","iat":0,"exp":9999999999,...} . (no signature)
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIiwiaWF0IjowLCJleHAiOjk5OTk5OTk5OTksImp0aSI6IngiLCJyb2xlcyI6WyJhZG1pbiJdfQ.";
        assert_eq!(decode_token(&keys(), none), Err(AuthFailure::Invalid));
        assert_eq!(
            decode_token(&keys(), "not.a.jwt"),
            Err(AuthFailure::Invalid)
        );
        assert_eq!(decode_token(&keys(), ""), Err(AuthFailure::Invalid));
    }

    #[test]
    fn tokens_of_another_audience_issuer_or_type_are_invalid() {
        let claims = Claims::new("7", Duration::from_secs(60));
        let other_audience = keys().for_audience("elsewhere", "xcore");
        let token = create_token(&other_audience, &claims).expect("token");
        assert_eq!(decode_token(&keys(), &token), Err(AuthFailure::Invalid));
        let other_issuer = keys().for_audience("xcore", "someone else");
        let token = create_token(&other_issuer, &claims).expect("token");
        assert_eq!(decode_token(&keys(), &token), Err(AuthFailure::Invalid));
        // Same key, audience and issuer, but not typed as an access token.
        #[derive(Serialize)]
        struct Untyped<'a> {
            #[serde(flatten)]
            claims: &'a Claims,
            aud: &'a str,
            iss: &'a str,
        }
        let untyped = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &Untyped {
                claims: &claims,
                aud: "xcore",
                iss: "xcore",
            },
            &EncodingKey::from_secret(b"unit-test secret, long enough for HS256"),
        )
        .expect("token");
        assert_eq!(decode_token(&keys(), &untyped), Err(AuthFailure::Invalid));
        let typed = create_token(&keys(), &claims).expect("token");
        assert_eq!(decode_token(&keys(), &typed), Ok(claims));
    }

    #[test]
    fn short_secrets_are_refused_without_echoing_them() {
        let err = JwtKeys::hs256(b"short-secret").expect_err("too short");
        assert!(!err.to_string().contains("short-secret"));
    }
}
