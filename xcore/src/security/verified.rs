//! Access tokens already verified, so that a client sending the same token
//! on every request pays for its signature and its JSON once.
//!
//! Only tokens that passed [`decode_token`] are kept, keyed by the whole
//! token text (a lookup compares every byte, so a forged token never
//! matches a verified one), bounded in bytes, each dropped once it expires.
//! What a token says is still judged on every request: its session and
//! version are checked by `Accounts::resolve` whether it came from here or
//! not.

use std::sync::Arc;

use quick_cache::Weighter;
use quick_cache::sync::Cache;

use super::token::{Claims, JwtKeys, LEEWAY_SECS, decode_token};
use crate::error::AuthFailure;

/// Bytes of tokens and claims kept: some thousands of signed-in clients.
const MAX_BYTES: u64 = 2 * 1024 * 1024;

/// Longest token kept; longer ones are verified each time.
const MAX_TOKEN: usize = 4096;

#[derive(Clone)]
struct BySize;

impl Weighter<String, Arc<Claims>> for BySize {
    fn weight(&self, token: &String, claims: &Arc<Claims>) -> u64 {
        let claims = claims.sub.len()
            + claims.jti.len()
            + claims.email.as_ref().map_or(0, String::len)
            + claims.sid.as_ref().map_or(0, String::len)
            + claims
                .roles
                .iter()
                .chain(&claims.permissions)
                .map(|s| s.len() + 24)
                .sum::<usize>()
            + 160;
        (token.len() + claims) as u64
    }
}

/// The verified tokens of one set of keys.
pub(crate) struct VerifiedTokens {
    keys: JwtKeys,
    entries: Cache<String, Arc<Claims>, BySize>,
}

impl VerifiedTokens {
    pub(crate) fn new(keys: JwtKeys) -> Self {
        VerifiedTokens {
            keys,
            entries: Cache::with_weighter(4096, MAX_BYTES, BySize),
        }
    }

    /// The claims of `token` if it is valid now: from an earlier check, or
    /// checked now.
    pub(crate) fn verify(&self, token: &str) -> Result<Arc<Claims>, AuthFailure> {
        if let Some(claims) = self.entries.get(token) {
            // `exp` as `decode_token` judges it, with the same leeway.
            let now = coarsetime::Clock::now_since_epoch().as_secs();
            if claims.exp.saturating_add(LEEWAY_SECS) >= now {
                return Ok(claims);
            }
            self.entries.remove(token);
            return Err(AuthFailure::Expired);
        }
        let claims = Arc::new(decode_token(&self.keys, token)?);
        if token.len() <= MAX_TOKEN {
            self.entries.insert(token.to_owned(), Arc::clone(&claims));
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::security::create_token;

    fn keys() -> JwtKeys {
        JwtKeys::hs256(b"unit-test secret, long enough for HS256").expect("keys")
    }

    #[test]
    fn a_token_is_verified_once_and_judged_by_its_expiry_each_time() {
        let tokens = VerifiedTokens::new(keys());
        let claims = Claims::new("7", Duration::from_secs(60)).with_roles(["admin"]);
        let token = create_token(&keys(), &claims).expect("token");
        let first = tokens.verify(&token).expect("valid");
        let again = tokens.verify(&token).expect("valid");
        assert!(
            Arc::ptr_eq(&first, &again),
            "the second check is the first's"
        );
        assert_eq!(again.roles, ["admin"]);

        let mut old = Claims::new("7", Duration::ZERO);
        old.exp = old.exp.saturating_sub(3600);
        let expired = create_token(&keys(), &old).expect("token");
        assert_eq!(tokens.verify(&expired), Err(AuthFailure::Expired));
        // An expired entry is refused too (as if it expired while kept).
        let mut kept = (*first).clone();
        kept.exp = old.exp;
        tokens.entries.insert("kept".to_owned(), Arc::new(kept));
        assert_eq!(tokens.verify("kept"), Err(AuthFailure::Expired));
    }

    #[test]
    fn forged_and_foreign_tokens_are_refused_and_not_kept() {
        let tokens = VerifiedTokens::new(keys());
        let token =
            create_token(&keys(), &Claims::new("7", Duration::from_secs(60))).expect("token");
        tokens.verify(&token).expect("valid");
        // The same claims, another signature.
        let (unsigned, _) = token.rsplit_once('.').expect("three parts");
        let forged = format!("{unsigned}.AAAA");
        assert_eq!(tokens.verify(&forged), Err(AuthFailure::Invalid));
        let other = JwtKeys::hs256(b"another secret, also 32 bytes long").expect("keys");
        let foreign =
            create_token(&other, &Claims::new("7", Duration::from_secs(60))).expect("token");
        assert_eq!(tokens.verify(&foreign), Err(AuthFailure::Invalid));
        assert_eq!(tokens.entries.len(), 1);
    }
}
