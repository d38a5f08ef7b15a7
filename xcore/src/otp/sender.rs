use std::future::Future;
use std::pin::Pin;

use crate::error::Error;

/// Who receives a code.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OtpRecipient {
    /// The user's id.
    pub user_id: String,
    /// The user's e-mail, when known.
    pub email: Option<String>,
}

impl OtpRecipient {
    /// A recipient.
    pub fn new(user_id: impl Into<String>, email: Option<String>) -> Self {
        OtpRecipient {
            user_id: user_id.into(),
            email,
        }
    }
}

/// Delivers one-time codes (e-mail, SMS...). Implement it and register it
/// with [`App::otp_sender`](crate::App::otp_sender).
///
/// ```
/// use std::future::Future;
/// use std::pin::Pin;
/// use xcore::otp::{OtpRecipient, OtpSender};
///
/// struct Mailer;
///
/// impl OtpSender for Mailer {
///     fn send<'a>(
///         &'a self,
///         to: &'a OtpRecipient,
///         code: &'a str,
///     ) -> Pin<Box<dyn Future<Output = xcore::Result<()>> + Send + 'a>> {
///         Box::pin(async move {
///             // smtp.send(to.email, format!("Your code: {code}")).await?;
///             let _ = (to, code);
///             Ok(())
///         })
///     }
/// }
/// ```
pub trait OtpSender: Send + Sync + 'static {
    /// Sends `code` to `to`.
    fn send<'a>(
        &'a self,
        to: &'a OtpRecipient,
        code: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;

    /// Whether the sender may run in production (the development
    /// [`LogSender`] may not).
    fn production_ready(&self) -> bool {
        true
    }
}

/// Development sender: writes the code to the log, marked as such. An app
/// in production refuses to start with it.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogSender;

impl OtpSender for LogSender {
    fn send<'a>(
        &'a self,
        to: &'a OtpRecipient,
        code: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
        Box::pin(async move {
            tracing::warn!(
                user = %to.user_id,
                "[DEVELOPMENT ONLY: configure an OtpSender] one-time code: {code}"
            );
            Ok(())
        })
    }

    fn production_ready(&self) -> bool {
        false
    }
}

/// Delivers codes by e-mail through the app's [`Mailer`](crate::mail::Mailer):
/// the default sender when `mail.url` is set.
#[derive(Debug, Clone)]
pub struct EmailSender {
    mailer: crate::mail::Mailer,
}

impl EmailSender {
    /// Codes sent with `mailer`.
    pub fn new(mailer: crate::mail::Mailer) -> Self {
        EmailSender { mailer }
    }
}

impl OtpSender for EmailSender {
    fn send<'a>(
        &'a self,
        to: &'a OtpRecipient,
        code: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
        Box::pin(async move {
            let address = to.email.as_deref().ok_or_else(|| {
                Error::Validation("this account has no e-mail address to send a code to".into())
            })?;
            self.mailer
                .send(crate::mail::Mail::new(
                    address,
                    "Your one-time code",
                    format!("Your code is {code}. It is valid for a few minutes; if you did not ask for it, ignore this message."),
                ))
                .await
        })
    }

    fn production_ready(&self) -> bool {
        self.mailer.production_ready()
    }
}
