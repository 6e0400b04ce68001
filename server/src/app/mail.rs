//! The way out for mail: use cases drop messages in a bounded postbox and go on; one courier,
//! owned like every background task, hands them to the mail server with a few retries. A
//! request never waits on SMTP, so its answer and its timing do not depend on whether a
//! message was sent (a reset asked for an unknown address answers like any other).

use crate::ports::{Mail, MailError, Mailer};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Messages waiting for the courier at most; more are dropped and counted.
pub const POSTBOX_CAPACITY: usize = 1_000;

/// Attempts per message when the mail server fails temporarily.
const ATTEMPTS: u32 = 3;

/// Messages sent (counter).
pub const METRIC_SENT: &str = "chemchat_mail_sent_total";
/// Messages given up: refused, out of attempts, or dropped with the postbox full (counter,
/// label `reason`).
pub const METRIC_LOST: &str = "chemchat_mail_lost_total";

/// Where use cases post mail, and how links in it begin.
#[derive(Debug, Clone)]
pub struct Postbox {
    queue: mpsc::Sender<Mail>,
    public_url: Arc<str>,
}

impl Postbox {
    /// Posts a message; when the postbox is full it is dropped (and counted), never waited on.
    pub fn post(&self, mail: Mail) {
        if self.queue.try_send(mail).is_err() {
            metrics::counter!(METRIC_LOST, "reason" => "full").increment(1);
            tracing::warn!("mail: the postbox is full; a message was dropped");
        }
    }

    /// A link to the web client's `path` (which starts with `/`).
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url.trim_end_matches('/'))
    }
}

/// The courier's loop.
#[derive(Debug)]
pub struct Courier {
    queue: mpsc::Receiver<Mail>,
    mailer: Arc<dyn Mailer>,
    retry_after: Duration,
}

/// A postbox and the courier that empties it into `mailer`; links start with `public_url`.
pub fn postal_service(mailer: Arc<dyn Mailer>, public_url: &str) -> (Postbox, Courier) {
    let (tx, rx) = mpsc::channel(POSTBOX_CAPACITY);
    let postbox = Postbox {
        queue: tx,
        public_url: public_url.into(),
    };
    let courier = Courier {
        queue: rx,
        mailer,
        retry_after: Duration::from_secs(2),
    };
    (postbox, courier)
}

impl Courier {
    /// Runs until every postbox is gone or its task is cancelled.
    pub async fn run(mut self) {
        while let Some(mail) = self.queue.recv().await {
            self.deliver(&mail).await;
        }
    }

    async fn deliver(&self, mail: &Mail) {
        let mut wait = self.retry_after;
        for attempt in 1..=ATTEMPTS {
            match self.mailer.send(mail).await {
                Ok(()) => {
                    metrics::counter!(METRIC_SENT).increment(1);
                    return;
                }
                Err(MailError::Refused(why)) => {
                    metrics::counter!(METRIC_LOST, "reason" => "refused").increment(1);
                    tracing::warn!(to = %mail.to, %why, "mail: refused");
                    return;
                }
                Err(MailError::Unavailable(why)) if attempt < ATTEMPTS => {
                    tracing::info!(to = %mail.to, %why, attempt, "mail: will try again");
                    tokio::time::sleep(wait).await;
                    wait *= 4;
                }
                Err(MailError::Unavailable(why)) => {
                    metrics::counter!(METRIC_LOST, "reason" => "unavailable").increment(1);
                    tracing::warn!(to = %mail.to, %why, "mail: gave up");
                }
            }
        }
    }
}
