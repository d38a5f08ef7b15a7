//! `/codes`: the seed's OTP service ("Service OTP"): send the signed-in user
//! a one-time code, then check it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use xcore::prelude::*;

/// One-time codes for the signed-in user.
pub struct Codes;

/// Body of `POST /codes/verifier`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeSoumis {
    /// The code the user received.
    pub code: String,
}

/// Answer of `POST /codes/verifier`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Verification {
    /// Whether the code was right (a right code is then used up).
    pub valide: bool,
}

#[plugin(name = "codes", version = "1.0.0", prefix = "/codes", tags = ["codes"])]
impl Codes {
    /// Generates a code (e.g. "847291", valid 300 s) and sends it to the
    /// signed-in user: by e-mail when `XCORE_MAIL_URL` is set, to the log in
    /// development. Three a minute per user.
    #[route(post, "/envoyer", auth, status = 202)]
    #[rate_limit(3, per = "minute", key = user)]
    async fn envoyer(otp: Otp, user: CurrentUser) -> xcore::Result<()> {
        otp.send_to(&user).await?;
        Ok(())
    }

    /// Checks a submitted code: single use, five attempts at most.
    #[route(post, "/verifier", auth)]
    async fn verifier(
        otp: Otp,
        user: CurrentUser,
        Json(body): Json<CodeSoumis>,
    ) -> xcore::Result<Json<Verification>> {
        Ok(Json(Verification {
            valide: otp.verify(user.id(), &body.code).await?,
        }))
    }
}
