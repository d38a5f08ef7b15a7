use std::fmt;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::Secret;
use crate::error::{AuthFailure, Error};

/// Seconds of clock skew tolerated on `exp` between instances.
const LEEWAY_SECS: u64 = 5;

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
}

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
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        Ok(JwtKeys {
            algorithm,
            encoding: EncodingKey::from_secret(secret.expose()),
            decoding: DecodingKey::from_secret(secret.expose()),
            validation,
        })
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
    jsonwebtoken::encode(
        &Header::new(keys.algorithm.to_jwt()),
        claims,
        &keys.encoding,
    )
    .map_err(Error::Token)
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
    jsonwebtoken::decode::<Claims>(token, &keys.decoding, &keys.validation)
        .map(|data| data.claims)
        .map_err(|err| match err.kind() {
            ErrorKind::ExpiredSignature => AuthFailure::Expired,
            _ => AuthFailure::Invalid,
        })
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
    fn short_secrets_are_refused_without_echoing_them() {
        let err = JwtKeys::hs256(b"short-secret").expect_err("too short");
        assert!(!err.to_string().contains("short-secret"));
    }
}
