use totp_rs::{Algorithm, Builder, Totp};

use crate::error::Error;

/// The TOTP generator xcore uses (RFC 6238: HMAC-SHA1, 6 digits, 30-second
/// steps, one step of skew), the way authenticator apps expect it.
pub fn totp(secret: Vec<u8>, account: &str, issuer: &str) -> Result<Totp, Error> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_account_name(account.replace(':', ""))
        .with_issuer(Some(issuer.replace(':', "")))
        .build()
        .map_err(|err| Error::Validation(format!("TOTP: {err}")))
}

/// The code for `secret` at `unix_time` (seconds), as a user's app shows it.
///
/// ```
/// // RFC 6238, appendix B: SHA-1 secret "12345678901234567890" at T = 59 s
/// // gives 94287082 in 8 digits, so 287082 in 6.
/// let code = xcore::security::totp_code(b"12345678901234567890", 59).unwrap();
/// assert_eq!(code, "287082");
/// ```
pub fn totp_code(secret: &[u8], unix_time: u64) -> Result<String, Error> {
    Ok(totp(secret.to_vec(), "code", "xcore")?
        .generate(unix_time)
        .to_string())
}
