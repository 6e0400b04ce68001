//! Notifications for people who are not looking: browsers' Web Push subscriptions, each user's
//! preferences, and the notifier that pushes new messages to members whose sockets do not have
//! the conversation open (docs/notifications.md).

mod coalesce;
mod digest;
mod notice;
mod notifier;
mod preferences;
mod subscriptions;

pub use digest::{DigestSender, DigestTiming, METRIC_DIGESTS};
pub use notice::{Notice, PRIVATE_BODY};
pub use notifier::{Notifier, PURPOSE};
pub use subscriptions::{MAX_SUBSCRIPTIONS_PER_USER, METRIC_SUBSCRIPTIONS, SubscriptionRequest};

use crate::ports::{Attention, PushSender};
use std::sync::Arc;
use std::time::Duration;

/// Pushes sent (counter, label `result`: `accepted`, `gone`, `retry`, `refused`).
pub const METRIC_SENT: &str = "chemchat_push_sent_total";
/// The notifier's decisions per member and message (counter, label `verdict`: `push`, or why
/// not: `sender`, `looking`, `level`, `snoozed`, `quiet`).
pub const METRIC_DECISIONS: &str = "chemchat_push_decisions_total";
/// From a message's commit to its push accepted by the push service, seconds (histogram).
pub const METRIC_DELAY: &str = "chemchat_push_delay_seconds";

/// How the server notifies.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// Where pushes go out.
    pub sender: Arc<dyn PushSender>,
    /// Who is looking at what.
    pub attention: Arc<dyn Attention>,
    /// Further messages of a conversation within this window after a push are coalesced.
    pub window: Duration,
    /// Whether subscriptions may point at plain `http` or private addresses (development).
    pub allow_private_endpoints: bool,
    /// When DMs and mentions no push reached are mailed (only when the server sends mail).
    pub digests: DigestTiming,
}

impl crate::app::App {
    /// The notifier of this app's event log; run it once per process.
    pub fn notifier(&self) -> Notifier {
        Notifier::new(
            Arc::clone(&self.store),
            Arc::clone(&self.events),
            Arc::clone(&self.clock),
            Arc::clone(&self.tokens),
            self.notify.clone(),
        )
        .mailing(self.postbox.is_some())
    }

    /// The checks before a user changes their notification settings: a usable account, and
    /// the budget of profile changes (subscriptions and preferences share it).
    async fn changing_settings(
        &self,
        tenant: &crate::domain::Tenant,
        principal: &crate::app::auth::Principal,
    ) -> crate::app::AppResult<()> {
        self.acting_user(principal).await?;
        let subjects = [crate::domain::Subject::User(&tenant.id, principal.user)];
        self.charge(tenant.tier, crate::domain::Action::ProfileChange, &subjects)
            .await
    }

    /// The sender of email digests, when the server sends mail; run it once per process.
    pub fn mail_digests(&self) -> Option<DigestSender> {
        let postbox = self.postbox.clone()?;
        Some(DigestSender::new(
            Arc::clone(&self.store),
            Arc::clone(&self.clock),
            Arc::clone(&self.tokens),
            postbox,
            self.notify.digests,
        ))
    }

    /// Who is looking at what (the gateway records it).
    pub fn attention(&self) -> &Arc<dyn Attention> {
        &self.notify.attention
    }
}
