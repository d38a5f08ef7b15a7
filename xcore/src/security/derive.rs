use hkdf::Hkdf;
use sha2::Sha256;

use super::Secret;

/// A 32-byte key for one `purpose`, derived from the application secret
/// (HKDF-SHA256), so each use has its own key and none reveals another.
pub(crate) fn derive_key(secret: &Secret, purpose: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's 8160-byte limit: expand cannot fail.
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
        assert_ne!(derive_key(&a, "otp"), derive_key(&a, "totp"));
        assert_ne!(derive_key(&a, "otp"), derive_key(&b, "otp"));
        assert_eq!(derive_key(&a, "otp"), derive_key(&a, "otp"));
    }
}
