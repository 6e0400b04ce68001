//! The notifier: a consumer of the event log (purpose `notifier`, its own consumer group on
//! Kafka) that pushes each new message to the members who are not looking at its conversation,
//! decided per member by `domain::push_verdict`.
//!
//! Bursts coalesce per member and conversation: the first message of a window is pushed at
//! once, the ones after it within the window are held and pushed as one notice with their count
//! when the window ends (unless the member opened the conversation meanwhile). Every push to a
//! conversation carries the same `Topic`, so a push service holding an undelivered notice for an
//! offline browser replaces it instead of queueing another.
//!
//! The consumer commits after each batch's pushes were answered; held notices and retries live
//! in memory, so a crash loses at most one window of coalesced notices — never a first push.

use super::coalesce::{Coalescer, Due, Hold};
use super::notice::{Notice, NoticeParts};
use super::{METRIC_DECISIONS, METRIC_DELAY, METRIC_SENT, NotifySettings};
use crate::app::auth::TokenIssuer;
use crate::app::backoff::Backoff;
use crate::app::chat::with_text;
use crate::domain::{
    ConversationId, ConversationKind, Recipient, TenantId, UserId, mentioned_usernames, mentions,
    push_verdict,
};
use crate::ports::chat::{EventPayload, MessageView, StoredEvent};
use crate::ports::{
    Clock, EventConsumer, EventLog, EventLogError, MailRecipients, PushAudience, PushMessage,
    PushOutcome, PushSubscription, Store, StoreResult, VapidKey,
};
use crate::telemetry::batch_span;
use futures::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::Instrument;

/// The notifier's purpose, naming its consumer group.
pub const PURPOSE: &str = "notifier";
/// Events read per batch at most.
const BATCH: usize = 200;
/// Pushes in flight at once.
const IN_FLIGHT: usize = 32;
/// How long a push service keeps a notice for an offline browser.
const PUSH_TTL: Duration = Duration::from_secs(24 * 3600);
/// After a batch smaller than [`BATCH`], how long the notifier lets events gather before it
/// reads again: under load, one read of the push audiences serves many messages instead of
/// two or three; a message after a quiet spell is still read at once.
const LINGER: Duration = Duration::from_millis(25);
/// First wait after the log failed; doubles up to 30 s.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// One push to make: a notice for one member's browsers.
#[derive(Debug, Clone)]
pub(super) struct Delivery {
    pub(super) tenant: TenantId,
    pub(super) user: UserId,
    pub(super) subscriptions: Vec<PushSubscription>,
    pub(super) notice: Notice,
    pub(super) urgent: bool,
    /// When the message it announces was committed, Unix milliseconds.
    pub(super) committed_at_ms: i64,
}

/// Pushes new messages to members who are not looking.
#[derive(Debug, Clone)]
pub struct Notifier {
    store: Arc<dyn Store>,
    log: Arc<dyn EventLog>,
    clock: Arc<dyn Clock>,
    tokens: Arc<TokenIssuer>,
    settings: NotifySettings,
    coalescer: Arc<Mutex<Coalescer>>,
    /// Each tenant's VAPID key, derived once (two HKDFs and a scalar multiplication per push
    /// otherwise); the signing secret does not change while the process runs.
    vapid: Arc<Mutex<HashMap<TenantId, VapidKey>>>,
    /// Whether DMs and mentions are queued for email digests (the server sends mail).
    mailing: bool,
}

impl Notifier {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        log: Arc<dyn EventLog>,
        clock: Arc<dyn Clock>,
        tokens: Arc<TokenIssuer>,
        settings: NotifySettings,
    ) -> Self {
        let coalescer = Coalescer::new(settings.window);
        Self {
            store,
            log,
            clock,
            tokens,
            settings,
            coalescer: Arc::new(Mutex::new(coalescer)),
            vapid: Arc::default(),
            mailing: false,
        }
    }

    /// The same notifier, queueing DMs and mentions for email digests when `mailing`.
    pub(crate) fn mailing(mut self, mailing: bool) -> Self {
        self.mailing = mailing;
        self
    }

    /// Subscribes now — so an in-process log delivers everything the relay ships from here on —
    /// and returns the task that notifies until it is dropped: the consumer, and beside it the
    /// loop that sends held notices and retries when they are due.
    pub async fn start(self) -> impl Future<Output = ()> + Send + 'static {
        let first = self.log.consumer(PURPOSE).await.ok();
        async move {
            let flusher = self.clone();
            tokio::join!(self.consume_forever(first), flusher.flush_forever());
        }
    }

    async fn consume_forever(&self, mut first: Option<Box<dyn EventConsumer>>) {
        let mut backoff = Backoff::new(FIRST_BACKOFF, Duration::from_secs(30));
        loop {
            let consumer = match first.take() {
                Some(consumer) => Ok(consumer),
                None => self.log.consumer(PURPOSE).await,
            };
            let error = match consumer {
                Ok(mut consumer) => loop {
                    let batch = match consumer.next_batch(BATCH).await {
                        Ok(batch) => batch,
                        Err(error) => break error,
                    };
                    let span = batch_span(
                        tracing::info_span!("notify", otel.kind = "consumer", events = batch.len()),
                        batch.iter().filter_map(|e| e.trace.as_ref()),
                    );
                    // Unreadable now: the batch comes again after the back-off.
                    if let Err(error) = self.notify_batch(&batch).instrument(span).await {
                        break EventLogError(error.into());
                    }
                    backoff.succeeded();
                    if let Err(error) = consumer.commit().await {
                        break error;
                    }
                    if batch.len() < BATCH {
                        tokio::time::sleep(LINGER).await;
                    }
                },
                Err(error) => error,
            };
            let wait = backoff.failed();
            tracing::warn!(%error, retry_in = ?wait, "notifier: event log failed");
            tokio::time::sleep(wait).await;
        }
    }

    async fn flush_forever(&self) {
        let every =
            (self.settings.window / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let due = self.lock().due(self.clock.now_ms());
            let mut deliveries = Vec::with_capacity(due.len());
            for item in due {
                match item {
                    Due::Held(delivery) => {
                        // They may have opened the conversation while the notice was held.
                        if !self.is_looking(&delivery).await {
                            deliveries.push((delivery, 1));
                        }
                    }
                    Due::Retry(delivery, attempt) => deliveries.push((delivery, attempt)),
                }
            }
            self.send_all(deliveries).await;
        }
    }

    /// Announces a batch's new messages: the push audiences of all its conversations in one
    /// read per tenant, then the text of only those messages someone could be told of — most
    /// conversations have nobody to push, and cost nothing more.
    async fn notify_batch(&self, batch: &[Arc<StoredEvent>]) -> StoreResult<()> {
        let fresh = |event: &&Arc<StoredEvent>| matches!(&event.payload, EventPayload::MessageCreated(m) if !m.deleted);
        let mut wanted: BTreeMap<&TenantId, Vec<ConversationId>> = BTreeMap::new();
        for event in batch.iter().filter(fresh) {
            let conversations = wanted.entry(&event.tenant).or_default();
            if !conversations.contains(&event.conversation_id) {
                conversations.push(event.conversation_id);
            }
        }
        let mut audiences: HashMap<&TenantId, HashMap<ConversationId, PushAudience>> =
            HashMap::new();
        for (tenant, conversations) in wanted {
            let found = self.store.push_audiences(tenant, &conversations).await?;
            audiences.insert(tenant, found);
        }
        let audience_of = |event: &StoredEvent| {
            audiences
                .get(&event.tenant)
                .and_then(|found| found.get(&event.conversation_id))
        };
        let told: Vec<Arc<StoredEvent>> = batch
            .iter()
            .filter(fresh)
            .filter(|event| {
                audience_of(event).is_some_and(|a| self.mailing || !a.listeners.is_empty())
            })
            .cloned()
            .collect();
        // The log carries no text; a message gone meanwhile comes back deleted.
        let told = with_text(self.store.as_ref(), &told).await?;
        let mut deliveries = Vec::new();
        for event in &told {
            let (EventPayload::MessageCreated(message), Some(audience)) =
                (&event.payload, audience_of(event))
            else {
                continue;
            };
            if message.deleted || !self.lock().first_sight(event.id) {
                continue;
            }
            match self.deliveries_for(event, message, audience).await {
                Ok(found) => deliveries.extend(found),
                Err(error) => {
                    tracing::warn!(%error, event = %event.id, "notifier: message skipped")
                }
            }
        }
        self.send_all(deliveries.into_iter().map(|d| (d, 1)).collect())
            .await;
        Ok(())
    }

    /// Decides, for each member who could be pushed, whether they are; returns the pushes to
    /// make now (the others are held by the coalescer or silenced).
    async fn deliveries_for(
        &self,
        event: &StoredEvent,
        message: &MessageView,
        audience: &PushAudience,
    ) -> anyhow::Result<Vec<Delivery>> {
        let tenant = &event.tenant;
        let sender = crate::domain::UserId::parse(&message.sender_id);
        let now = self.clock.now_ms();
        let text = message.content.as_deref().unwrap_or_default();
        let direct = audience.kind == ConversationKind::Dm;
        if let (true, Some(sender)) = (self.mailing, sender) {
            self.queue_for_mail(event, message.seq, text, direct, sender, now)
                .await?;
        }
        if audience.listeners.is_empty() {
            return Ok(Vec::new());
        }
        let looking = self.looking(tenant, event.conversation_id, now).await;
        let notice = self.notice(event, message, sender, audience).await?;
        let mut now_deliveries = Vec::new();
        for listener in &audience.listeners {
            let prefs = &listener.preferences;
            let mentioned = !direct && mentions(text, &listener.username);
            let recipient = Recipient {
                is_sender: Some(listener.user) == sender,
                level: listener.conversation.level.unwrap_or(prefs.level),
                snoozed: listener
                    .conversation
                    .snoozed_until_ms
                    .is_some_and(|until| until > now),
                quiet: prefs.quiet_hours.as_ref().is_some_and(|q| q.contains(now)),
                looking: looking.contains(&listener.user),
                direct,
                mentioned,
            };
            let verdict = push_verdict(&recipient);
            metrics::counter!(METRIC_DECISIONS, "verdict" => verdict.err().map_or("push", |s| s.as_str()))
                .increment(1);
            if verdict.is_err() {
                continue;
            }
            let delivery = Delivery {
                tenant: tenant.clone(),
                user: listener.user,
                subscriptions: listener.subscriptions.clone(),
                notice: notice.clone(),
                urgent: direct || mentioned,
                committed_at_ms: event.created_at_ms,
            };
            if let Hold::SendNow(delivery) = self.lock().offer(delivery, now) {
                now_deliveries.push(delivery);
            }
        }
        Ok(now_deliveries)
    }

    /// Who has the conversation open. When that cannot be read, nobody: pushing someone who is
    /// looking beats losing a notice nobody sees.
    async fn looking(
        &self,
        tenant: &TenantId,
        conversation: ConversationId,
        now: i64,
    ) -> std::collections::HashSet<UserId> {
        match self
            .settings
            .attention
            .looking(tenant, conversation, now)
            .await
        {
            Ok(looking) => looking,
            Err(error) => {
                tracing::debug!(%error, "notifier: attention unknown; assuming nobody looks");
                Default::default()
            }
        }
    }

    /// The notice of a message: its sender's name, the conversation's, and the text unless the
    /// tenant keeps previews out of pushes.
    async fn notice(
        &self,
        event: &StoredEvent,
        message: &MessageView,
        sender: Option<UserId>,
        audience: &PushAudience,
    ) -> anyhow::Result<Notice> {
        let tenant = &event.tenant;
        let sender_name = match sender {
            Some(id) => self
                .store
                .users_by_ids(tenant, &[id])
                .await?
                .into_iter()
                .next()
                .map(|u| u.display_name),
            None => None,
        }
        .unwrap_or_else(|| "Someone".to_owned());
        let previews = self.store.account_rules(tenant).await?.push_previews;
        Ok(Notice::of(
            message,
            event.conversation_id,
            NoticeParts {
                kind: audience.kind,
                conversation_name: audience.name.as_deref(),
                sender_name: &sender_name,
                previews,
            },
        ))
    }

    /// Queues a DM for its other members, or a group message for the members it mentions, for
    /// their email digests: what no push reached and no one read by then is mailed.
    async fn queue_for_mail(
        &self,
        event: &StoredEvent,
        seq: i64,
        text: &str,
        direct: bool,
        sender: UserId,
        now: i64,
    ) -> anyhow::Result<()> {
        let recipients = if direct {
            MailRecipients::Direct { sender }
        } else {
            MailRecipients::Mentioned {
                sender,
                usernames: mentioned_usernames(text),
            }
        };
        let delay = i64::try_from(self.settings.digests.delay.as_millis()).unwrap_or(i64::MAX);
        self.store
            .queue_mail(
                &event.tenant,
                event.conversation_id,
                seq,
                &recipients,
                now.saturating_add(delay),
            )
            .await?;
        Ok(())
    }

    async fn is_looking(&self, delivery: &Delivery) -> bool {
        let conversation = delivery.notice.conversation_id;
        self.looking(&delivery.tenant, conversation, self.clock.now_ms())
            .await
            .contains(&delivery.user)
    }

    /// Sends every delivery to every browser of its member, a bounded number at once.
    async fn send_all(&self, deliveries: Vec<(Delivery, u32)>) {
        let sends = deliveries.into_iter().flat_map(|(delivery, attempt)| {
            let delivery = Arc::new(delivery);
            delivery
                .subscriptions
                .clone()
                .into_iter()
                .map(move |subscription| (Arc::clone(&delivery), subscription, attempt))
        });
        futures::stream::iter(sends)
            .for_each_concurrent(IN_FLIGHT, |(delivery, subscription, attempt)| async move {
                self.send_one(&delivery, subscription, attempt).await;
            })
            .await;
    }

    async fn send_one(&self, delivery: &Delivery, subscription: PushSubscription, attempt: u32) {
        let Some(vapid) = self.vapid(&delivery.tenant) else {
            return;
        };
        let message = PushMessage {
            payload: serde_json::to_vec(&delivery.notice).unwrap_or_default(),
            ttl: PUSH_TTL,
            urgency: if delivery.urgent { "high" } else { "normal" },
            topic: Some(topic(delivery.notice.conversation_id)),
        };
        let outcome = self
            .settings
            .sender
            .send(&vapid, &subscription, &message)
            .await;
        let label = match &outcome {
            PushOutcome::Accepted => "accepted",
            PushOutcome::Gone => "gone",
            PushOutcome::Retry(_) => "retry",
            PushOutcome::Refused(_) => "refused",
        };
        metrics::counter!(METRIC_SENT, "result" => label).increment(1);
        match outcome {
            PushOutcome::Accepted => {
                let delay = (self.clock.now_ms() - delivery.committed_at_ms).max(0);
                metrics::histogram!(METRIC_DELAY).record(delay as f64 / 1000.0);
                if self.mailing && delivery.urgent {
                    self.reached(delivery).await;
                }
            }
            PushOutcome::Gone => {
                let forgotten = self
                    .store
                    .delete_push_subscription(&delivery.tenant, None, subscription.id)
                    .await;
                if let Err(error) = forgotten {
                    tracing::warn!(%error, "notifier: a gone subscription was not deleted");
                }
                metrics::counter!(super::METRIC_SUBSCRIPTIONS, "change" => "gone").increment(1);
            }
            PushOutcome::Retry(after) => {
                let retry = Delivery {
                    subscriptions: vec![subscription],
                    ..delivery.clone()
                };
                self.lock()
                    .retry(retry, attempt, after, self.clock.now_ms());
            }
            PushOutcome::Refused(status) => {
                tracing::info!(status, subscription = %subscription.id, "push refused");
            }
        }
    }

    /// A DM or mention reached the member by push: it leaves their mail queue.
    async fn reached(&self, delivery: &Delivery) {
        let notice = &delivery.notice;
        let reached = self
            .store
            .mail_reached_by_push(
                &delivery.tenant,
                delivery.user,
                notice.conversation_id,
                notice.seq,
            )
            .await;
        if let Err(error) = reached {
            tracing::warn!(%error, "notifier: a pushed message stays queued for mail");
        }
    }

    /// The tenant's VAPID key, derived on first use.
    fn vapid(&self, tenant: &TenantId) -> Option<VapidKey> {
        let mut keys = self.vapid.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(key) = keys.get(tenant) {
            return Some(key.clone());
        }
        let key = self.tokens.vapid(tenant)?;
        keys.insert(tenant.clone(), key.clone());
        Some(key)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Coalescer> {
        // A poisoned lock only means another task panicked mid-update of plain data.
        self.coalescer.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The RFC 8030 `Topic` of a conversation's notices: its id in 32 hex characters (the most a
/// topic may hold, all from the URL-safe alphabet).
fn topic(conversation: crate::domain::ConversationId) -> String {
    conversation
        .to_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
