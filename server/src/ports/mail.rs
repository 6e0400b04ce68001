//! Mail to people: password resets and proofs of address. Only the adapter knows SMTP.

use async_trait::async_trait;
use std::fmt;

/// One message to one address: plain text, and an HTML alternative when there is one.
#[derive(Clone, Default)]
pub struct Mail {
    /// The address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The body, plain text.
    pub text: String,
    /// The same body as HTML (everything in it escaped by its author).
    pub html: Option<String>,
    /// A one-click unsubscribe URL (RFC 8058): sent as `List-Unsubscribe` with
    /// `List-Unsubscribe-Post`.
    pub unsubscribe: Option<String>,
}

impl fmt::Debug for Mail {
    // The body carries single-use tokens: it never reaches a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mail")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Why a message did not go.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The mail server could not be reached or answered with a temporary failure: worth
    /// trying again.
    #[error("mail server unavailable: {0}")]
    Unavailable(String),
    /// The message was refused for good (a bad address, a permanent SMTP error).
    #[error("mail refused: {0}")]
    Refused(String),
}

/// Sends mail.
#[async_trait]
pub trait Mailer: Send + Sync + fmt::Debug + 'static {
    /// Hands one message to the mail server.
    async fn send(&self, mail: &Mail) -> Result<(), MailError>;
}
