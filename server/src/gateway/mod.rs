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
pub mod protocol;
mod session;

pub use client_event::ClientEvent;
pub use fanout::{Fanout, envelope_of};
pub use session::{Flow, Session};

use crate::app::App;
use crate::ports::{BusInbox, Presence};
use crate::tasks::Tasks;
use hub::{GAP_WAIT, Hub};
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
    /// Upper bound of the random `afterMs` sent when draining, so clients do not reconnect at once.
    pub drain_jitter_ms: u64,
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
            drain_jitter_ms: 5_000,
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
    tasks: Tasks,
    settings: GatewaySettings,
    draining: AtomicBool,
    slots: Arc<Semaphore>,
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
        settings: GatewaySettings,
        tasks: Tasks,
    ) -> Self {
        let slots = Arc::new(Semaphore::new(settings.max_connections));
        Self {
            inner: Arc::new(Inner {
                app,
                fanout,
                presence,
                tasks,
                settings,
                draining: AtomicBool::new(false),
                slots,
                instance: uuid::Uuid::new_v4().simple().to_string(),
            }),
        }
    }

    /// Starts the bus (other instances' envelopes → the hub) and the hub's upkeep (releasing
    /// events held behind a gap that did not fill in time).
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

    /// The owner of the gateway's background tasks.
    pub fn tasks(&self) -> &Tasks {
        &self.inner.tasks
    }

    /// Names this process in presence records shared with other instances.
    pub fn instance(&self) -> &str {
        &self.inner.instance
    }
}
