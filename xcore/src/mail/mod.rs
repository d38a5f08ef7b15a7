//! Outgoing e-mail: a [`Mailer`] over SMTP (lettre), configured by
//! `mail.url` / `XCORE_MAIL_URL` and `mail.from` / `XCORE_MAIL_FROM`. It
//! delivers one-time codes when configured, and the account e-mails
//! (password reset, address verification).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> xcore::Result<()> {
//! use xcore::mail::{Mail, Mailer};
//! use xcore::testing::Mailbox;
//!
//! // In tests, a mailbox stands in for the SMTP server.
//! let mailbox = Mailbox::default();
//! let mailer = Mailer::new(mailbox.clone());
//! mailer.send(Mail::new("ada@example.com", "Bonjour", "Le texte.")).await?;
//! assert_eq!(mailbox.last_mail().subject, "Bonjour");
//! # Ok(())
//! # }
//! ```

mod account;
mod smtp;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use account::{AccountLink, AccountMails, DefaultAccountMails};
pub use smtp::SmtpMailer;

use crate::error::Error;

/// One e-mail: a recipient, a subject and a plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Mail {
    /// The recipient's address.
    pub to: String,
    /// The subject.
    pub subject: String,
    /// The body, plain text.
    pub text: String,
}

impl Mail {
    /// An e-mail to `to`.
    pub fn new(to: impl Into<String>, subject: impl Into<String>, text: impl Into<String>) -> Self {
        Mail {
            to: to.into(),
            subject: subject.into(),
            text: text.into(),
        }
    }
}

/// Something that delivers e-mail: SMTP ([`SmtpMailer`]), the log in
/// development ([`LogMailer`]), a test mailbox, or your own.
pub trait MailSender: Send + Sync + 'static {
    /// Delivers `mail`.
    fn send<'a>(
        &'a self,
        mail: &'a Mail,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;

    /// Whether it may run in production (the [`LogMailer`] may not).
    fn production_ready(&self) -> bool {
        true
    }
}

/// The app's mailer: a cheap handle on its [`MailSender`]. Handlers take it
/// as an extractor.
#[derive(Clone)]
pub struct Mailer(Arc<dyn MailSender>, Arc<dyn AccountMails>);

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("production_ready", &self.0.production_ready())
            .finish()
    }
}

impl Mailer {
    /// A mailer delivering with `sender`.
    pub fn new(sender: impl MailSender) -> Self {
        Mailer(Arc::new(sender), Arc::new(DefaultAccountMails))
    }

    /// The same mailer, writing the account e-mails with `texts`.
    pub fn with_account_mails(self, texts: Arc<dyn AccountMails>) -> Self {
        Mailer(self.0, texts)
    }

    /// What writes the account e-mails.
    pub fn account_mails(&self) -> &dyn AccountMails {
        self.1.as_ref()
    }

    /// Delivers `mail`.
    pub async fn send(&self, mail: Mail) -> Result<(), Error> {
        self.0.send(&mail).await
    }

    /// Whether it may run in production.
    pub fn production_ready(&self) -> bool {
        self.0.production_ready()
    }
}

/// Development mailer: writes each e-mail to the log, marked as such. An
/// app in production refuses to start with it.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogMailer;

impl MailSender for LogMailer {
    fn send<'a>(
        &'a self,
        mail: &'a Mail,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
        Box::pin(async move {
            tracing::warn!(
                to = %mail.to,
                subject = %mail.subject,
                "[DEVELOPMENT ONLY: set XCORE_MAIL_URL] e-mail not sent:\n{}",
                mail.text
            );
            Ok(())
        })
    }

    fn production_ready(&self) -> bool {
        false
    }
}
