//! The Redis bus: envelopes on one pub/sub channel per tenant and conversation
//! (`<prefix>chemchat:<tenant>:conv:<conversation>`); each instance subscribes to the channels
//! of the conversations its connections joined.

use super::COMMAND_TIMEOUT;
use crate::adapters::bus::LocalBus;
use crate::domain::{ConversationId, TenantId, UserId};
use crate::ports::{Bus, BusEnvelope, BusError};
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// Cross-instance fan-out over Redis pub/sub; this instance's own envelopes never leave it.
#[derive(Debug)]
pub struct RedisBus {
    local: LocalBus,
    publisher: ConnectionManager,
    prefix: String,
    origin: String,
    interest: mpsc::UnboundedSender<(String, bool)>,
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
}

impl RedisBus {
    /// Connects to Redis and starts the subscriber task. `prefix` scopes every channel (tests
    /// use a random one).
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let publisher = super::connect(&client).await?;
        let (interest, commands) = mpsc::unbounded_channel();
        let local = LocalBus::new();
        let origin = uuid::Uuid::new_v4().simple().to_string();
        let healthy = Arc::new(AtomicBool::new(true));
        tokio::spawn(subscriber(
            client,
            commands,
            local.clone(),
            origin.clone(),
            Arc::clone(&healthy),
        ));
        Ok(Self {
            local,
            publisher,
            prefix: prefix.to_owned(),
            origin,
            interest,
            healthy,
        })
    }

    fn channel(&self, tenant: &TenantId, conversation: ConversationId) -> String {
        format!("{}chemchat:{tenant}:conv:{conversation}", self.prefix)
    }
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
    };
    Some((header.o, envelope))
}

#[async_trait]
impl Bus for RedisBus {
    async fn publish(&self, envelope: BusEnvelope) -> Result<(), BusError> {
        let channel = self.channel(&envelope.tenant, envelope.conversation);
        let payload = encode(&self.origin, &envelope);
        self.local.deliver(envelope);
        let mut connection = self.publisher.clone();
        let sent = tokio::time::timeout(
            COMMAND_TIMEOUT,
            connection.publish::<_, _, ()>(channel, payload),
        )
        .await;
        match sent {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                self.healthy.store(false, Ordering::Relaxed);
                Err(BusError(e.into()))
            }
            Err(_) => {
                self.healthy.store(false, Ordering::Relaxed);
                Err(BusError(anyhow::anyhow!("redis publish timed out")))
            }
        }
    }

    fn interest(&self, tenant: &TenantId, conversation: ConversationId, wanted: bool) {
        // The subscriber task has ended only if the runtime is shutting down.
        let _ = self
            .interest
            .send((self.channel(tenant, conversation), wanted));
    }

    fn subscribe(&self) -> broadcast::Receiver<BusEnvelope> {
        self.local.subscribe()
    }

    fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }
}

/// Keeps one subscriber connection: resubscribes everything wanted after each reconnect and
/// hands other instances' envelopes to the local bus.
async fn subscriber(
    client: redis::Client,
    mut commands: mpsc::UnboundedReceiver<(String, bool)>,
    local: LocalBus,
    origin: String,
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
        let mut ok = true;
        if !wanted.is_empty() {
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
                    Some(message) => {
                        if let Some((from, envelope)) = decode(message.get_payload_bytes())
                            && from != origin
                        {
                            local.deliver(envelope);
                        }
                    }
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
        };
        let (origin, back) = decode(&encode("me", &envelope)).expect("decodes");
        assert_eq!(origin, "me");
        assert_eq!(back, envelope);
        assert!(decode(b"no header").is_none());
    }
}
