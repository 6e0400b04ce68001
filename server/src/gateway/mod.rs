//! The real-time gateway: the WebSocket protocol of api.md as transport-independent sessions,
//! the hub of this instance's connections, and fan-out through the [`Bus`].
//!
//! **API boundary**: the gateway calls the same use cases as REST (`App::send_message`, …); it
//! adds delivery, presence and typing, never a business rule. It knows no axum type: the axum
//! transport lives in `http/ws.rs`, and a Socket.IO transport can drive the same [`Session`].

mod client_event;
pub mod conn;
mod events;
mod fanout;
pub mod hub;
mod limits;
pub mod metrics;
pub mod outlet;
pub mod protocol;
mod session;

pub use client_event::ClientEvent;

/// Maps and sets of the gateway's hot path (one lookup per delivery). Their keys are ids the
/// server made (conversation and user UUIDs, tenant ids), never free text from a client, so
/// foldhash replaces SipHash, which was 5 % of the instructions per message
/// (docs/benchmarks.md, instruction profile).
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
pub(crate) type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
pub use fanout::{Fanout, envelope_of};
pub use session::{Flow, Session};

use crate::app::App;
use crate::domain::{SessionId, TenantId, address_key};
use crate::ports::{BusInbox, ConnectionLedger, Presence};
use crate::tasks::Tasks;
use conn::Conn;
use dashmap::DashMap;
use hub::{GAP_WAIT, Hub};
use protocol::CloseReason;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The gateway's limits.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// Largest client frame, in bytes; larger closes with 1009.
    pub max_frame_bytes: usize,
    /// Frames per second a connection may send on average.
    pub rate_per_second: u32,
    /// Burst of frames above the average.
    pub rate_burst: u32,
    /// Frames queued per connection before it counts as a slow consumer.
    pub send_queue: usize,
    /// Time a connection has to authenticate.
    pub auth_timeout: Duration,
    /// Silence after which a connection is closed and its presence expires.
    pub heartbeat_timeout: Duration,
    /// Typing expires after this without a new `typing.start`.
    pub typing_ttl: Duration,
    /// Concurrent connections this instance accepts.
    pub max_connections: usize,
    /// Live connections one user may hold across every instance.
    pub max_connections_per_user: u64,
    /// Sockets one address may hold open before they authenticate.
    pub unauthenticated_per_address: usize,
    /// Upper bound of the random `afterMs` sent when draining, so clients do not reconnect at once.
    pub drain_jitter_ms: u64,
    /// How often every connection's session is checked against the store: the net under
    /// revocation messages the bus lost (they close connections at once when it works).
    pub session_check: Duration,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            max_frame_bytes: 64 * 1024,
            rate_per_second: 50,
            rate_burst: 100,
            send_queue: 256,
            auth_timeout: Duration::from_secs(10),
            heartbeat_timeout: Duration::from_secs(60),
            typing_ttl: Duration::from_secs(5),
            max_connections: 50_000,
            max_connections_per_user: 10,
            unauthenticated_per_address: 50,
            drain_jitter_ms: 5_000,
            session_check: Duration::from_secs(30),
        }
    }
}

/// One unauthenticated socket's place in its address's count.
#[derive(Debug)]
pub struct PendingSlot {
    pending: Arc<DashMap<String, usize>>,
    key: String,
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        self.pending.remove_if_mut(&self.key, |_, count| {
            *count = count.saturating_sub(1);
            *count == 0
        });
    }
}

/// Sessions checked in one query.
const SESSIONS_PER_CHECK: usize = 500;

/// Closes the connections whose session ended without this instance hearing of it (the bus
/// was down when it was revoked, or the session simply expired).
async fn close_ended_sessions(app: &App, hub: &Hub) {
    let mut by_tenant: HashMap<TenantId, HashMap<SessionId, Vec<Arc<Conn>>>> = HashMap::new();
    for (conn, tenant, session) in hub.sessions() {
        by_tenant
            .entry(tenant)
            .or_default()
            .entry(session)
            .or_default()
            .push(conn);
    }
    for (tenant, sessions) in by_tenant {
        let ids: Vec<SessionId> = sessions.keys().copied().collect();
        for chunk in ids.chunks(SESSIONS_PER_CHECK) {
            match app.ended_sessions(&tenant, chunk).await {
                Ok(ended) => {
                    for conn in ended.iter().filter_map(|id| sessions.get(id)).flatten() {
                        conn.close(CloseReason::new(
                            protocol::CLOSE_UNAUTHENTICATED,
                            "session ended; log in again",
                        ));
                    }
                }
                Err(error) => tracing::warn!(%tenant, error = ?error, "session check failed"),
            }
        }
    }
}

/// The gateway of one server instance. Cloning shares it.
#[derive(Debug, Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    app: App,
    fanout: Fanout,
    presence: Arc<dyn Presence>,
    ledger: Arc<dyn ConnectionLedger>,
    tasks: Tasks,
    settings: GatewaySettings,
    draining: AtomicBool,
    slots: Arc<Semaphore>,
    /// Unauthenticated sockets per address key.
    pending: Arc<DashMap<String, usize>>,
    /// Names this process in presence records shared with other instances.
    instance: String,
}

impl Gateway {
    /// A gateway delivering through `fanout`; call [`Gateway::start`] once, when serving, to
    /// run its background work under `tasks`.
    pub fn new(
        app: App,
        fanout: Fanout,
        presence: Arc<dyn Presence>,
        ledger: Arc<dyn ConnectionLedger>,
        settings: GatewaySettings,
        tasks: Tasks,
    ) -> Self {
        let slots = Arc::new(Semaphore::new(settings.max_connections));
        Self {
            inner: Arc::new(Inner {
                app,
                fanout,
                presence,
                ledger,
                tasks,
                settings,
                draining: AtomicBool::new(false),
                slots,
                pending: Arc::default(),
                instance: uuid::Uuid::new_v4().simple().to_string(),
            }),
        }
    }

    /// Starts the bus (other instances' envelopes → the hub) and the hub's upkeep (releasing
    /// events held behind a gap that did not fill in time, sending the account channel's
    /// updates whose window has passed).
    pub fn start(&self) {
        let hub = Arc::clone(self.hub());
        let inbox: Arc<dyn BusInbox> = Arc::clone(&hub) as Arc<dyn BusInbox>;
        self.inner.fanout.bus().start(inbox, &self.inner.tasks);
        self.inner.tasks.spawn("hub-upkeep", async move {
            let mut every = tokio::time::interval(GAP_WAIT / 4);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                hub.release_stale(GAP_WAIT);
                hub.flush_accounts();
            }
        });
        let (app, hub) = (self.inner.app.clone(), Arc::clone(self.hub()));
        let period = self.inner.settings.session_check;
        self.inner.tasks.spawn("session-check", async move {
            let mut every = tokio::time::interval(period);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every.tick().await;
            loop {
                every.tick().await;
                close_ended_sessions(&app, &hub).await;
            }
        });
    }

    /// A connection slot, or `None` when the instance is full or draining.
    pub fn admit(&self) -> Option<OwnedSemaphorePermit> {
        if self.inner.draining.load(Ordering::Acquire) {
            return None;
        }
        Arc::clone(&self.inner.slots).try_acquire_owned().ok()
    }

    /// A place for one more unauthenticated socket from `ip`, or `None` when the address holds
    /// as many as it may. The place is given back when the returned slot is dropped (the
    /// socket authenticated or closed).
    pub fn pending_slot(&self, ip: IpAddr) -> Option<PendingSlot> {
        let key = address_key(ip);
        let mut count = self.inner.pending.entry(key.clone()).or_insert(0);
        if *count >= self.inner.settings.unauthenticated_per_address {
            return None;
        }
        *count += 1;
        Some(PendingSlot {
            pending: Arc::clone(&self.inner.pending),
            key,
        })
    }

    /// Tells every connection to reconnect elsewhere and close (graceful shutdown).
    pub fn drain(&self) {
        self.inner.draining.store(true, Ordering::Release);
        self.hub().drain_all(self.inner.settings.drain_jitter_ms);
    }

    /// Waits until every connection has closed, at most `limit`.
    pub async fn closed(&self, limit: Duration) {
        let _ = tokio::time::timeout(limit, async {
            while !self.hub().is_empty() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
    }

    /// Live connections on this instance.
    pub fn connections(&self) -> usize {
        self.hub().len()
    }

    /// The limits.
    pub fn settings(&self) -> &GatewaySettings {
        &self.inner.settings
    }

    /// The use cases.
    pub fn app(&self) -> &App {
        &self.inner.app
    }

    /// Whether cross-instance fan-out currently works.
    pub fn bus_healthy(&self) -> bool {
        self.inner.fanout.bus().healthy()
    }

    /// This instance's connections.
    pub fn hub(&self) -> &Arc<Hub> {
        self.inner.fanout.hub()
    }

    /// Delivery here and to other instances.
    pub fn fanout(&self) -> &Fanout {
        &self.inner.fanout
    }

    /// Presence records.
    pub fn presence(&self) -> &Arc<dyn Presence> {
        &self.inner.presence
    }

    /// Live connections per user and tenant, across instances.
    pub fn ledger(&self) -> &Arc<dyn ConnectionLedger> {
        &self.inner.ledger
    }

    /// The owner of the gateway's background tasks.
    pub fn tasks(&self) -> &Tasks {
        &self.inner.tasks
    }

    /// Names this process in presence records shared with other instances.
    pub fn instance(&self) -> &str {
        &self.inner.instance
    }
}
