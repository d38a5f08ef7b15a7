//! SMTP delivery with lettre: a pooled async transport, STARTTLS or TLS as
//! the URL says.

use std::future::Future;
use std::pin::Pin;

use lettre::message::Mailbox as Address;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{Mail, MailSender};
use crate::config::MailConfig;
use crate::error::Error;

/// Delivers e-mail through an SMTP server.
///
/// ```
/// use xcore::config::MailConfig;
/// use xcore::mail::SmtpMailer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mut config = MailConfig::default();
/// config.url = Some("smtp://user:pass@127.0.0.1:2525".into());
/// config.from = Some("Shop <no-reply@shop.example>".into());
/// assert!(SmtpMailer::from_config(&config).unwrap().is_some());
/// assert!(SmtpMailer::from_config(&MailConfig::default()).unwrap().is_none());
/// # }
/// ```
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Address,
}

impl SmtpMailer {
    /// The mailer `mail.url` and `mail.from` describe; `None` without a URL.
    ///
    /// | URL | connection |
    /// |---|---|
    /// | `smtps://user:pass@host` | TLS from the start (port 465) |
    /// | `smtp://user:pass@host:587?tls=required` | STARTTLS, refused without it |
    /// | `smtp://host:25` | plain text: only for a relay on the same machine or network |
    ///
    /// A server that does not answer within 10 seconds fails the send
    /// (503), so a request never waits on it longer. Call it inside a Tokio
    /// runtime: the connection pool starts its own task.
    pub fn from_config(config: &MailConfig) -> Result<Option<Self>, Error> {
        let Some(url) = &config.url else {
            return Ok(None);
        };
        let from = config.from.as_deref().ok_or_else(|| {
            Error::Config(
                "XCORE_MAIL_URL is set but XCORE_MAIL_FROM is not: name the sender".into(),
            )
        })?;
        let from: Address = from
            .parse()
            .map_err(|err| Error::Config(format!("mail.from `{from}` is not an address: {err}")))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
            .map_err(|err| Error::Config(format!("mail.url {url} is not an SMTP URL: {err}")))?
            .timeout(Some(std::time::Duration::from_secs(10)))
            .build();
        Ok(Some(SmtpMailer { transport, from }))
    }
}

impl MailSender for SmtpMailer {
    fn send<'a>(
        &'a self,
        mail: &'a Mail,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
        Box::pin(async move {
            let to: Address = mail
                .to
                .parse()
                .map_err(|_| Error::Validation("the recipient is not an e-mail address".into()))?;
            let message = Message::builder()
                .from(self.from.clone())
                .to(to)
                .subject(&mail.subject)
                .header(ContentType::TEXT_PLAIN)
                .body(mail.text.clone())
                .map_err(Error::internal)?;
            self.transport.send(message).await.map_err(|err| {
                // The server's answer may quote the message: log the error
                // kind, not the text.
                tracing::warn!(
                    transient = err.is_transient(),
                    permanent = err.is_permanent(),
                    "e-mail not delivered"
                );
                Error::Unavailable("the mail server did not take the message".into())
            })?;
            Ok(())
        })
    }
}
