//! Alert e-mail over SMTP (`[smtp]`): plain text, one message to every recipient.
//! `smtp.url` is `smtp://host:port` (plain, `?tls=required` for STARTTLS) or
//! `smtps://host:port` (TLS from the start), with credentials in the URL when needed.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use super::webhook::SendError;
use crate::config::SmtpSettings;

/// How long one SMTP exchange may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Sends alert e-mail. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    /// None when `smtp.url` is not set.
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
}

fn permanent(message: String) -> SendError {
    SendError {
        message,
        permanent: true,
        status: None,
    }
}

impl Mailer {
    /// A mailer for `settings` (validated: the URL's scheme and the from address).
    pub fn new(settings: &SmtpSettings) -> anyhow::Result<Self> {
        let transport = match &settings.url {
            Some(url) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                    .map_err(|e| anyhow::anyhow!("smtp.url: {e}"))?
                    .timeout(Some(TIMEOUT))
                    .build(),
            ),
            None => None,
        };
        let from = settings
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("smtp.from: {e}"))?;
        Ok(Self { transport, from })
    }

    /// Sends `subject` and `body` to `to`. A bad address or a missing `smtp.url` is
    /// permanent; a server that cannot be reached or refuses for now is not.
    pub async fn send(&self, to: &[String], subject: &str, body: String) -> Result<(), SendError> {
        let Some(transport) = &self.transport else {
            return Err(permanent(
                "smtp.url is not set: e-mail cannot be sent".into(),
            ));
        };
        if to.is_empty() {
            return Err(permanent(
                "no recipient (the organization has no member)".into(),
            ));
        }
        let mut message = Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .header(ContentType::TEXT_PLAIN);
        for address in to {
            let mailbox: Mailbox = address
                .parse()
                .map_err(|e| permanent(format!("invalid recipient {address:?}: {e}")))?;
            message = message.to(mailbox);
        }
        let message = message
            .body(body)
            .map_err(|e| permanent(format!("cannot build the message: {e}")))?;
        transport
            .send(message)
            .await
            .map(drop)
            .map_err(|e| SendError {
                permanent: e.is_permanent(),
                message: format!("SMTP: {e}"),
                status: e.status().map(u16::from),
            })
    }
}
