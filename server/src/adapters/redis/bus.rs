//! The Redis bus: envelopes on one pub/sub channel per tenant and conversation
//! (`<prefix>chemchat:<tenant>:conv:<conversation>`); each instance subscribes to the channels
//! of the conversations its connections joined or watch for their users. Ended sessions travel
//! on one control channel per tenant (`<prefix>chemchat:<tenant>:control`), which every
//! instance always listens to: a pinned server SUBSCRIBEs to its tenant's, a multi-tenant one
//! PSUBSCRIBEs to them all. Membership news go on one account channel per tenant
//! (`account_wire.rs`). A message counts for the tenant its channel names, whatever it says:
//! a tenant's ACL user publishes only on its own tenant's channels, so a forged message naming
//! another tenant is dropped.

use super::COMMAND_TIMEOUT;
use super::account_wire::{account_channel, decode_account, encode_account, is_account_channel};
use super::names::{channel_tenant, control_channel, control_pattern, is_control_channel};
use crate::domain::{ConversationId, DeviceId, SessionId, TenantId, UserId};
use crate::ports::{AccountEnvelope, Bus, BusEnvelope, BusInbox, Revocation, SessionScope};
use crate::tasks::Tasks;
use crate::telemetry::TraceParent;
use bytes::Bytes;
use futures::StreamExt;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// One PUBLISH: the channel and the encoded envelope.
type Outgoing = (String, Vec<u8>);

/// Envelopes waiting for Redis; more are dropped (and counted) rather than queued without bound.
const QUEUE: usize = 16_384;
/// PUBLISH commands sent in one pipelined round trip.
const PIPELINE: usize = 256;

/// Envelopes dropped because the publish queue was full or Redis refused a batch (counter).
pub const METRIC_DROPPED: &str = "chemchat_bus_dropped_total";
/// Envelopes published to other instances (counter).
pub const METRIC_PUBLISHED: &str = "chemchat_bus_published_total";

/// Cross-instance fan-out over Redis pub/sub. Publishing queues (bounded) for one publisher task
/// that pipelines; one subscriber task receives other instances' envelopes.
#[derive(Debug)]
pub struct RedisBus {
    client: redis::Client,
    publisher: ConnectionManager,
    prefix: String,
    /// The tenant a pinned server serves: the only control channel it listens to.
    pinned: Option<TenantId>,
    origin: String,
    outgoing: mpsc::Sender<Outgoing>,
    queued: Mutex<Option<mpsc::Receiver<Outgoing>>>,
    interest: mpsc::UnboundedSender<(String, bool)>,
    commands: Mutex<Option<mpsc::UnboundedReceiver<(String, bool)>>>,
    healthy: Arc<AtomicBool>,
}

/// What precedes the frame on the wire (one JSON line).
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    o: String,
    t: String,
    c: ConversationId,
    s: Option<i64>,
    k: Option<UserId>,
    r: Option<UserId>,
    a: i64,
    /// The `traceparent` of a traced change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p: Option<String>,
}

impl RedisBus {
    /// Connects to Redis (failing when it cannot be reached). `prefix` scopes every channel
    /// (tests use a random one). Nothing runs until [`Bus::start`].
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let publisher = super::connect(&client).await?;
        let (interest, commands) = mpsc::unbounded_channel();
        let (outgoing, queued) = mpsc::channel(QUEUE);
        Ok(Self {
            client,
            publisher,
            prefix: prefix.to_owned(),
            pinned: None,
            origin: uuid::Uuid::new_v4().simple().to_string(),
            outgoing,
            queued: Mutex::new(Some(queued)),
            interest,
            commands: Mutex::new(Some(commands)),
            healthy: Arc::new(AtomicBool::new(true)),
        })
    }

    fn channel(&self, tenant: &TenantId, conversation: ConversationId) -> String {
        format!("{}chemchat:{tenant}:conv:{conversation}", self.prefix)
    }

    /// Listens to `tenant`'s control channel only, for a server pinned to it (whose ACL user may
    /// not subscribe to other tenants' channels).
    pub fn pinned_to(mut self, tenant: Option<TenantId>) -> Self {
        self.pinned = tenant;
        self
    }

    /// The control channels this instance listens to.
    fn control(&self) -> Control {
        match &self.pinned {
            Some(tenant) => Control::Channel(control_channel(&self.prefix, tenant)),
            None => Control::Pattern(control_pattern(&self.prefix)),
        }
    }

    fn queue(&self, channel: String, payload: Vec<u8>) {
        if self.outgoing.try_send((channel, payload)).is_err() {
            metrics::counter!(METRIC_DROPPED).increment(1);
        }
    }
}

/// A revocation on the control channel.
#[derive(Debug, Serialize, Deserialize)]
struct ControlMessage {
    o: String,
    t: String,
    u: UserId,
    /// `session`, `device`, `all` or `allExcept`.
    s: String,
    /// The session or device id the scope names.
    i: Option<String>,
    r: String,
}

fn encode_revocation(origin: &str, revocation: &Revocation) -> Vec<u8> {
    let (scope, id) = match &revocation.scope {
        SessionScope::Session(id) => ("session", Some(id.to_string())),
        SessionScope::Device(device) => ("device", Some(device.as_str().to_owned())),
        SessionScope::All => ("all", None),
        SessionScope::AllExcept(id) => ("allExcept", Some(id.to_string())),
    };
    serde_json::to_vec(&ControlMessage {
        o: origin.to_owned(),
        t: revocation.tenant.as_str().to_owned(),
        u: revocation.user,
        s: scope.to_owned(),
        i: id,
        r: revocation.reason.clone(),
    })
    .unwrap_or_default()
}

fn decode_revocation(payload: &[u8]) -> Option<(String, Revocation)> {
    let message: ControlMessage = serde_json::from_slice(payload).ok()?;
    let session = || message.i.as_deref().and_then(SessionId::parse);
    let scope = match message.s.as_str() {
        "session" => SessionScope::Session(session()?),
        "device" => SessionScope::Device(DeviceId::parse(message.i.as_deref()?).ok()?),
        "all" => SessionScope::All,
        "allExcept" => SessionScope::AllExcept(session()?),
        _ => return None,
    };
    let revocation = Revocation {
        tenant: TenantId::parse(&message.t).ok()?,
        user: message.u,
        scope,
        reason: message.r,
    };
    Some((message.o, revocation))
}

fn encode(origin: &str, envelope: &BusEnvelope) -> Vec<u8> {
    let header = Header {
        o: origin.to_owned(),
        t: envelope.tenant.as_str().to_owned(),
        c: envelope.conversation,
        s: envelope.event_seq,
        k: envelope.skip_user,
        r: envelope.revoke_user,
        a: envelope.at_ms,
        p: envelope
            .trace
            .as_ref()
            .map(|trace| trace.as_str().to_owned()),
    };
    let mut bytes = serde_json::to_vec(&header).unwrap_or_default();
    bytes.push(b'\n');
    bytes.extend_from_slice(&envelope.frame);
    bytes
}

fn decode(payload: &[u8]) -> Option<(String, BusEnvelope)> {
    let split = payload.iter().position(|b| *b == b'\n')?;
    let header: Header = serde_json::from_slice(payload.get(..split)?).ok()?;
    let frame = Bytes::copy_from_slice(payload.get(split + 1..)?);
    let envelope = BusEnvelope {
        tenant: TenantId::parse(&header.t).ok()?,
        conversation: header.c,
        event_seq: header.s,
        skip_user: header.k,
        revoke_user: header.r,
        at_ms: header.a,
        frame,
        trace: header.p.as_deref().and_then(TraceParent::parse),
    };
    Some((header.o, envelope))
}

impl Bus for RedisBus {
    fn publish(&self, envelope: &BusEnvelope) {
        let channel = self.channel(&envelope.tenant, envelope.conversation);
        self.queue(channel, encode(&self.origin, envelope));
    }

    fn revoke(&self, revocation: &Revocation) {
        let channel = control_channel(&self.prefix, &revocation.tenant);
        self.queue(channel, encode_revocation(&self.origin, revocation));
    }

    fn publish_account(&self, envelope: &AccountEnvelope) {
        let channel = account_channel(&self.prefix, &envelope.tenant);
        self.queue(channel, encode_account(&self.origin, envelope));
    }

    fn watch_tenant(&self, tenant: &TenantId) {
        // Kept for the process's life: a channel per tenant, however many come and go.
        let _ = self
            .interest
            .send((account_channel(&self.prefix, tenant), true));
    }

    fn interest(&self, tenant: &TenantId, conversation: ConversationId, wanted: bool) {
        // The subscriber task has ended only if the server is shutting down.
        let _ = self
            .interest
            .send((self.channel(tenant, conversation), wanted));
    }

    fn start(&self, inbox: Arc<dyn BusInbox>, tasks: &Tasks) {
        let queued = self.queued.lock().unwrap_or_else(|e| e.into_inner()).take();
        let commands = self
            .commands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let (Some(queued), Some(commands)) = (queued, commands) else {
            tracing::error!("the Redis bus was started twice; the second start does nothing");
            return;
        };
        tasks.spawn(
            "bus-publisher",
            publisher(self.publisher.clone(), queued, Arc::clone(&self.healthy)),
        );
        tasks.spawn(
            "bus-subscriber",
            subscriber(
                self.client.clone(),
                commands,
                inbox,
                Identity {
                    origin: self.origin.clone(),
                    prefix: self.prefix.clone(),
                    control: self.control(),
                },
                Arc::clone(&self.healthy),
            ),
        );
    }

    fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }
}

/// Sends queued envelopes, many PUBLISH commands per round trip. A batch Redis refuses is
/// dropped and counted: the envelopes are stored events (which remote clients fetch with sync)
/// or ephemeral signals, and holding them would only make the queue overflow later.
async fn publisher(
    mut connection: ConnectionManager,
    mut queued: mpsc::Receiver<Outgoing>,
    healthy: Arc<AtomicBool>,
) {
    let mut batch = Vec::with_capacity(PIPELINE);
    while queued.recv_many(&mut batch, PIPELINE).await > 0 {
        let mut pipe = redis::pipe();
        for (channel, payload) in &batch {
            pipe.publish(channel, payload.as_slice()).ignore();
        }
        let sent =
            tokio::time::timeout(COMMAND_TIMEOUT, pipe.query_async::<()>(&mut connection)).await;
        match sent {
            Ok(Ok(())) => {
                healthy.store(true, Ordering::Relaxed);
                metrics::counter!(METRIC_PUBLISHED).increment(batch.len() as u64);
            }
            Ok(Err(error)) => {
                healthy.store(false, Ordering::Relaxed);
                metrics::counter!(METRIC_DROPPED).increment(batch.len() as u64);
                tracing::debug!(%error, dropped = batch.len(), "redis publish failed");
            }
            Err(_) => {
                healthy.store(false, Ordering::Relaxed);
                metrics::counter!(METRIC_DROPPED).increment(batch.len() as u64);
                tracing::debug!(dropped = batch.len(), "redis publish timed out");
            }
        }
        batch.clear();
    }
}

/// The control channels an instance always listens to.
#[derive(Debug, Clone)]
enum Control {
    /// One tenant's (a pinned server).
    Channel(String),
    /// Every tenant's (a multi-tenant server).
    Pattern(String),
}

/// This instance's name on the bus, its names' prefix, and the control channels it always
/// listens to.
#[derive(Debug)]
struct Identity {
    origin: String,
    prefix: String,
    control: Control,
}

impl Identity {
    /// Hands a message from another instance to the inbox; drops this instance's own echoes and
    /// messages about another tenant than their channel's.
    fn receive(&self, inbox: &dyn BusInbox, channel: &str, payload: &[u8]) {
        let Some(tenant) = channel_tenant(&self.prefix, channel) else {
            return;
        };
        if is_control_channel(channel) {
            if let Some((from, revocation)) = decode_revocation(payload)
                && from != self.origin
                && revocation.tenant == tenant
            {
                inbox.revoked(&revocation);
            }
        } else if is_account_channel(channel) {
            if let Some((from, envelope)) = decode_account(payload)
                && from != self.origin
                && envelope.tenant == tenant
            {
                inbox.account(envelope);
            }
        } else if let Some((from, envelope)) = decode(payload)
            && from != self.origin
            && envelope.tenant == tenant
        {
            inbox.deliver(envelope);
        }
    }

    /// Subscribes a fresh connection to the control channels.
    async fn listen(&self, sink: &mut redis::aio::PubSubSink) -> bool {
        match &self.control {
            Control::Channel(channel) => sink.subscribe(channel).await.is_ok(),
            Control::Pattern(pattern) => sink.psubscribe(pattern).await.is_ok(),
        }
    }
}

/// Keeps one subscriber connection: resubscribes everything wanted after each reconnect and
/// hands other instances' envelopes to the local bus.
async fn subscriber(
    client: redis::Client,
    mut commands: mpsc::UnboundedReceiver<(String, bool)>,
    inbox: Arc<dyn BusInbox>,
    identity: Identity,
    healthy: Arc<AtomicBool>,
) {
    let mut wanted: HashSet<String> = HashSet::new();
    let mut backoff = Duration::from_millis(100);
    loop {
        let connected = tokio::time::timeout(COMMAND_TIMEOUT, client.get_async_pubsub()).await;
        let Ok(Ok(pubsub)) = connected else {
            healthy.store(false, Ordering::Relaxed);
            // Keep the wanted set current while Redis is away.
            let wait = tokio::time::sleep(backoff);
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    () = &mut wait => break,
                    command = commands.recv() => match command {
                        Some((channel, true)) => { wanted.insert(channel); }
                        Some((channel, false)) => { wanted.remove(&channel); }
                        None => return,
                    },
                }
            }
            backoff = (backoff * 2).min(Duration::from_secs(2));
            continue;
        };
        let (mut sink, mut stream) = pubsub.split();
        let mut ok = identity.listen(&mut sink).await;
        if ok && !wanted.is_empty() {
            let channels: Vec<&String> = wanted.iter().collect();
            ok = sink.subscribe(channels).await.is_ok();
        }
        if ok {
            healthy.store(true, Ordering::Relaxed);
            backoff = Duration::from_millis(100);
            tracing::info!("redis bus subscribed");
        }
        while ok {
            tokio::select! {
                command = commands.recv() => match command {
                    Some((channel, true)) => {
                        ok = sink.subscribe(&channel).await.is_ok();
                        wanted.insert(channel);
                    }
                    Some((channel, false)) => {
                        ok = sink.unsubscribe(&channel).await.is_ok();
                        wanted.remove(&channel);
                    }
                    None => return,
                },
                message = stream.next() => match message {
                    Some(message) => identity.receive(
                        inbox.as_ref(),
                        message.get_channel_name(),
                        message.get_payload_bytes(),
                    ),
                    None => ok = false,
                },
            }
        }
        healthy.store(false, Ordering::Relaxed);
        tracing::warn!("redis bus connection lost; cross-instance fan-out paused, reconnecting");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip() {
        let envelope = BusEnvelope {
            tenant: TenantId::parse("acme").expect("tenant"),
            conversation: ConversationId::generate(),
            event_seq: Some(7),
            skip_user: Some(UserId::generate()),
            revoke_user: None,
            at_ms: 42,
            frame: Bytes::from_static(b"{\"event\":\"x\",\"data\":{}}"),
            trace: TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        };
        let (origin, back) = decode(&encode("me", &envelope)).expect("decodes");
        assert_eq!(origin, "me");
        assert_eq!(back, envelope);
        assert!(decode(b"no header").is_none());
    }

    #[test]
    fn revocations_round_trip() {
        let tenant = TenantId::parse("acme").expect("tenant");
        for scope in [
            SessionScope::Session(SessionId::generate()),
            SessionScope::Device(DeviceId::parse("phone-1").expect("device")),
            SessionScope::All,
            SessionScope::AllExcept(SessionId::generate()),
        ] {
            let revocation = Revocation {
                tenant: tenant.clone(),
                user: UserId::generate(),
                scope,
                reason: "logged out".into(),
            };
            let (origin, back) =
                decode_revocation(&encode_revocation("me", &revocation)).expect("decodes");
            assert_eq!(origin, "me");
            assert_eq!(back, revocation);
        }
        assert!(decode_revocation(b"{}").is_none());
    }
}
