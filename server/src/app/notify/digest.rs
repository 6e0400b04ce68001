//! The email fallback: DMs and @mentions that no push reached and that are still unread when
//! their delay has passed go out as one digest mail per user — conversations and counts, never
//! a message's text — at most one per window, only to a verified address, with a one-click
//! unsubscribe (RFC 8058). The notifier queues them (`queue_mail`); a push accepted for the
//! member takes them off the queue; this loop, owned like every background task, sends what is
//! left.

use crate::app::auth::TokenIssuer;
use crate::app::html::escape;
use crate::app::mail::Postbox;
use crate::domain::{ConversationKind, TenantId, UserId};
use crate::ports::{Clock, Digest, DigestLine, Mail, Store};
use std::sync::Arc;
use std::time::Duration;

/// Digests posted (counter).
pub const METRIC_DIGESTS: &str = "chemchat_mail_digests_total";

/// When digests go out.
#[derive(Debug, Clone, Copy)]
pub struct DigestTiming {
    /// How long a DM or mention waits for a push or a read before it is mailed.
    pub delay: Duration,
    /// Digests to one user are at least this far apart.
    pub gap: Duration,
}

/// The loop that mails due digests.
#[derive(Debug, Clone)]
pub struct DigestSender {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    tokens: Arc<TokenIssuer>,
    postbox: Postbox,
    timing: DigestTiming,
}

impl DigestSender {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        tokens: Arc<TokenIssuer>,
        postbox: Postbox,
        timing: DigestTiming,
    ) -> Self {
        Self {
            store,
            clock,
            tokens,
            postbox,
            timing,
        }
    }

    /// Looks for due digests a few times per delay (at most every 30 s) until cancelled.
    pub async fn run(self) {
        let every =
            (self.timing.delay / 4).clamp(Duration::from_millis(100), Duration::from_secs(30));
        loop {
            if let Err(error) = self.drain().await {
                tracing::warn!(%error, "mail digests: round failed");
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Sends every digest due now. Each user's turn either empties their due queue or moves it
    /// past now, so the round ends.
    pub async fn drain(&self) -> anyhow::Result<()> {
        let now = self.clock.now_ms();
        let gap = i64::try_from(self.timing.gap.as_millis()).unwrap_or(i64::MAX);
        while let Some((tenant, user)) = self.store.next_digest(now).await? {
            let Some(digest) = self.store.take_digest(&tenant, user, now, gap).await? else {
                continue;
            };
            if digest.lines.is_empty() {
                continue;
            }
            self.post(&tenant, user, &digest);
            metrics::counter!(METRIC_DIGESTS).increment(1);
        }
        Ok(())
    }

    fn post(&self, tenant: &TenantId, user: UserId, digest: &Digest) {
        let unsubscribe = match self.tokens.issue_unsubscribe(tenant, user) {
            Ok(token) => self
                .postbox
                .link(&format!("/api/v1/notifications/unsubscribe?token={token}")),
            Err(error) => {
                tracing::warn!(%error, "mail digests: no unsubscribe link; not sent");
                return;
            }
        };
        let open = self.postbox.link("/");
        let lines: Vec<String> = digest.lines.iter().map(describe).collect();
        let total: u32 = digest.lines.iter().map(|l| l.unread).sum();
        let subject = match total {
            1 => "1 unread message on ChemChat".to_owned(),
            n => format!("{n} unread messages on ChemChat"),
        };
        let text = format!(
            "Hello {name},\n\nWhile you were away:\n{items}\n\nOpen ChemChat: {open}\n\n\
             You get this mail because email notifications are on for your account.\n\
             Turn them off: {unsubscribe}\n",
            name = digest.display_name,
            items = lines
                .iter()
                .map(|l| format!("- {l}"))
                .collect::<Vec<_>>()
                .join("\n"),
        );
        let html = format!(
            "<!doctype html><html><body><p>Hello {name},</p><p>While you were away:</p>\
             <ul>{items}</ul><p><a href=\"{open}\">Open ChemChat</a></p>\
             <p style=\"color:#666;font-size:small\">You get this mail because email \
             notifications are on for your account. <a href=\"{unsubscribe}\">Turn them \
             off</a>.</p></body></html>",
            name = escape(&digest.display_name),
            items = lines
                .iter()
                .map(|l| format!("<li>{}</li>", escape(l)))
                .collect::<String>(),
            open = escape(&open),
            unsubscribe = escape(&unsubscribe),
        );
        self.postbox.post(Mail {
            to: digest.email.clone(),
            subject,
            text,
            html: Some(html),
            unsubscribe: Some(unsubscribe),
        });
    }
}

/// One conversation's line: who wrote, how many.
fn describe(line: &DigestLine) -> String {
    let from = line.senders.join(", ");
    match (line.kind, line.unread) {
        (ConversationKind::Dm, 1) => format!("{from} sent you a message"),
        (ConversationKind::Dm, n) => format!("{from} sent you {n} messages"),
        (_, n) => format!(
            "{}: {from} mentioned you{}",
            line.name.as_deref().unwrap_or("a group"),
            if n == 1 {
                String::new()
            } else {
                format!(" ({n} messages)")
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ConversationId;

    #[test]
    fn lines_say_who_and_how_many() {
        let dm = DigestLine {
            conversation: ConversationId::generate(),
            kind: ConversationKind::Dm,
            name: None,
            unread: 2,
            senders: vec!["Ada".into()],
        };
        assert_eq!(describe(&dm), "Ada sent you 2 messages");
        let group = DigestLine {
            kind: ConversationKind::Group,
            name: Some("Lab".into()),
            unread: 1,
            senders: vec!["Ada".into(), "Bob".into()],
            ..dm
        };
        assert_eq!(describe(&group), "Lab: Ada, Bob mentioned you");
    }
}
