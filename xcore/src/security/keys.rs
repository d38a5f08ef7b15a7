//! The keys xcore derives from the one application secret, each with its
//! own label (HKDF-SHA256), so each use has its own key and none reveals the
//! secret or another key.
//!
//! The labels are part of the stored data's format: renaming one makes what
//! it protects unreadable (TOTP secrets) or invalid (outstanding tokens).

use hkdf::Hkdf;
use sha2::Sha256;

use super::Secret;

/// Signs and verifies access tokens (64 bytes: enough for HS512 too).
const ACCESS_TOKENS: &str = "access tokens";
/// Authenticates one-time codes kept in the cache.
const ONE_TIME_CODES: &str = "one-time codes";
/// Encrypts stored TOTP secrets.
const TOTP_SECRETS: &str = "totp secrets";

/// Every key derived from the application secret.
pub(crate) struct DerivedKeys {
    /// The HMAC key of access tokens.
    pub(crate) access_tokens: Secret,
    /// The HMAC key of one-time codes.
    pub(crate) one_time_codes: [u8; 32],
    /// The AES-256-GCM key of stored TOTP secrets.
    pub(crate) totp_secrets: [u8; 32],
}

impl DerivedKeys {
    pub(crate) fn from_app_secret(secret: &Secret) -> Self {
        DerivedKeys {
            access_tokens: Secret::new(derive::<64>(secret, ACCESS_TOKENS).to_vec()),
            one_time_codes: derive(secret, ONE_TIME_CODES),
            totp_secrets: derive(secret, TOTP_SECRETS),
        }
    }
}

fn derive<const N: usize>(secret: &Secret, purpose: &str) -> [u8; N] {
    let mut key = [0u8; N];
    // N is far below HKDF-SHA256's 8160-byte limit: expand cannot fail.
    let _ =
        Hkdf::<Sha256>::new(Some(b"xcore"), secret.expose()).expand(purpose.as_bytes(), &mut key);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_purpose_and_secret() {
        let a = Secret::from("first secret, thirty-two bytes long");
        let b = Secret::from("second secret, thirty-two bytes long");
        assert_ne!(derive::<32>(&a, "otp"), derive::<32>(&a, "totp"));
        assert_ne!(derive::<32>(&a, "otp"), derive::<32>(&b, "otp"));
        assert_eq!(derive::<32>(&a, "otp"), derive::<32>(&a, "otp"));
        let keys = DerivedKeys::from_app_secret(&a);
        assert_ne!(keys.one_time_codes, keys.totp_secrets);
        assert_ne!(keys.access_tokens.expose(), a.expose());
    }

    #[test]
    fn stored_data_keys_keep_their_labels() {
        // TOTP secrets in existing databases were sealed under this label.
        let secret = Secret::from("first secret, thirty-two bytes long");
        assert_eq!(
            DerivedKeys::from_app_secret(&secret).totp_secrets,
            derive::<32>(&secret, "totp secrets")
        );
    }
}
