//! The words of the e-mails the accounts send: the password-reset link and
//! the address-verification link. [`DefaultAccountMails`] writes them in
//! plain English; give the app your own [`AccountMails`] with
//! [`App::account_mails`](crate::App::account_mails) to word them otherwise
//! (another language, your product's name, HTML through your sender).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> xcore::Result<()> {
//! use serde_json::json;
//! use xcore::mail::{AccountLink, AccountMails, Mail};
//! use xcore::testing::{Mailbox, TestClient};
//!
//! struct Francais;
//!
//! impl AccountMails for Francais {
//!     fn password_reset(&self, link: &AccountLink<'_>) -> Mail {
//!         Mail::new(link.to, "Nouveau mot de passe", format!("Ouvrez {}", link.url))
//!     }
//!     fn verification(&self, link: &AccountLink<'_>) -> Mail {
//!         Mail::new(link.to, "Confirmez votre adresse", format!("Ouvrez {}", link.url))
//!     }
//! }
//!
//! let mailbox = Mailbox::default();
//! let app = xcore::App::new(xcore::testing::config())?
//!     .mailer(mailbox.clone())
//!     .account_mails(Francais);
//! let client = TestClient::new(app).await?;
//! let ada = json!({"email": "ada@example.com", "password": "correct horse"});
//! client.post("/auth/register").json(&ada).send().await;
//! assert_eq!(mailbox.last_mail().subject, "Confirmez votre adresse");
//! assert!(mailbox.last_mail().text.contains("/verify-email?token="));
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

use super::Mail;

/// A link to send: to whom, the whole URL (token included), how long it
/// works.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct AccountLink<'a> {
    /// The account's address.
    pub to: &'a str,
    /// `{auth.public_url}/reset-password?token=…` or `…/verify-email?token=…`.
    pub url: &'a str,
    /// How long the link works.
    pub valid_for: Duration,
}

/// Writes the e-mails of the account links.
pub trait AccountMails: Send + Sync + 'static {
    /// The e-mail holding a password-reset link.
    fn password_reset(&self, link: &AccountLink<'_>) -> Mail;
    /// The e-mail holding an address-verification link.
    fn verification(&self, link: &AccountLink<'_>) -> Mail;
}

/// The default texts: plain English, plain text.
#[derive(Debug, Default, Clone, Copy)]
pub struct DefaultAccountMails;

impl AccountMails for DefaultAccountMails {
    fn password_reset(&self, link: &AccountLink<'_>) -> Mail {
        let minutes = link.valid_for.as_secs().div_ceil(60);
        Mail::new(
            link.to,
            "Reset your password",
            format!(
                "Someone, hopefully you, asked to reset the password of the account {}.\n\n\
                 To choose a new password, open this link within {minutes} minutes:\n\n{}\n\n\
                 If you did not ask for this, ignore this message: your password stays as it is.\n",
                link.to, link.url
            ),
        )
    }

    fn verification(&self, link: &AccountLink<'_>) -> Mail {
        let hours = link.valid_for.as_secs().div_ceil(3600);
        Mail::new(
            link.to,
            "Confirm your e-mail address",
            format!(
                "Confirm that {} is your address by opening this link within {hours} hours:\n\n{}\n\n\
                 If you did not create this account, ignore this message.\n",
                link.to, link.url
            ),
        )
    }
}
