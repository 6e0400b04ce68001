//! The SMTP mailer (lettre), selected by `CHEMCHAT_SMTP_URL`: `smtps://user:pass@host` (TLS
//! from the start), `smtp://user:pass@host:587?tls=required` (STARTTLS), or plain
//! `smtp://host:port` for a relay on the same host or network.

use crate::ports::{Mail, MailError, Mailer};
use async_trait::async_trait;
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// How long one conversation with the mail server may take.
const TIMEOUT: Duration = Duration::from_secs(15);

/// Sends through one SMTP server.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpMailer {
    // The transport holds the server's credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// A mailer for the server at `url`, sending as `from` (`Name <address>`).
    pub fn new(url: &str, from: &str) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| anyhow::anyhow!("CHEMCHAT_SMTP_URL: {e}"))?
            .timeout(Some(TIMEOUT))
            .build();
        let from = from
            .parse()
            .map_err(|e| anyhow::anyhow!("CHEMCHAT_MAIL_FROM: {e}"))?;
        Ok(Self { transport, from })
    }
}

#[async_trait::async_trait]
impl crate::ports::Probe for SmtpMailer {
    fn name(&self) -> &'static str {
        "smtp"
    }

    /// Connects, greets and says goodbye: no mail is sent.
    async fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.transport.test_connection().await?,
            "the server did not accept the connection"
        );
        Ok(())
    }
}

/// One body part, quoted-printable whatever the text: links stay readable in any client.
fn part(kind: ContentType, body: &str) -> Result<SinglePart, MailError> {
    let body = Body::new_with_encoding(body.to_owned(), ContentTransferEncoding::QuotedPrintable)
        .map_err(|_| MailError::Refused("unencodable body".to_owned()))?;
    Ok(SinglePart::builder().header(kind).body(body))
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e| MailError::Refused(format!("address: {e}")))?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&mail.subject);
        if let Some(url) = &mail.unsubscribe {
            // RFC 8058: mail clients offer "unsubscribe" and POST to the URL themselves.
            builder = builder
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{url}>"),
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".to_owned(),
                ));
        }
        let text = part(ContentType::TEXT_PLAIN, &mail.text)?;
        let message = match &mail.html {
            Some(html) => builder.multipart(
                MultiPart::alternative()
                    .singlepart(text)
                    .singlepart(part(ContentType::TEXT_HTML, html)?),
            ),
            None => builder.singlepart(text),
        }
        .map_err(|e| MailError::Refused(e.to_string()))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(MailError::Refused(e.to_string())),
            Err(e) => Err(MailError::Unavailable(e.to_string())),
        }
    }
}
