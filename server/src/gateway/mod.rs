//! The real-time gateway: the WebSocket protocol of api.md as transport-independent sessions,
//! the hub of this instance's connections, and fan-out through the [`Bus`].
//!
//! **API boundary**: the gateway calls the same use cases as REST (`App::send_message`, …); it
//! adds delivery, presence and typing, never a business rule. It knows no axum type: the axum
//! transport lives in `http/ws.rs`, and a Socket.IO transport can drive the same [`Session`].

mod events;
mod fanout;
pub mod hub;
mod limits;
pub mod metrics;
pub mod protocol;
mod session;

pub use fanout::envelope_of;
pub use session::{Flow, Session};

use crate::app::App;
use crate::ports::{Bus, Presence};
use hub::Hub;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

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
    hub: Arc<Hub>,
    bus: Arc<dyn Bus>,
    presence: Arc<dyn Presence>,
    settings: GatewaySettings,
    draining: watch::Sender<bool>,
    slots: Arc<Semaphore>,
    /// Names this process in presence records shared with other instances.
    instance: String,
}

impl Gateway {
    /// A gateway over these ports; call [`Gateway::start`] once to run its fan-out tasks.
    pub fn new(
        app: App,
        bus: Arc<dyn Bus>,
        presence: Arc<dyn Presence>,
        settings: GatewaySettings,
    ) -> Self {
        let hub = Arc::new(Hub::new(Arc::clone(&bus), settings.send_queue));
        let slots = Arc::new(Semaphore::new(settings.max_connections));
        let (draining, _) = watch::channel(false);
        Self {
            inner: Arc::new(Inner {
                app,
                hub,
                bus,
                presence,
                settings,
                draining,
                slots,
                instance: uuid::Uuid::new_v4().simple().to_string(),
            }),
        }
    }

    /// Spawns the fan-out tasks: event log → bus, and bus → connections.
    pub fn start(&self) {
        let inner = &self.inner;
        tokio::spawn(fanout::deliver(
            inner.bus.subscribe(),
            Arc::clone(&inner.hub),
        ));
        tokio::spawn(fanout::pump(
            inner.app.subscribe_events(),
            Arc::clone(&inner.bus),
        ));
    }

    /// A connection slot, or `None` when the instance is full or draining.
    pub fn admit(&self) -> Option<OwnedSemaphorePermit> {
        if *self.inner.draining.borrow() {
            return None;
        }
        Arc::clone(&self.inner.slots).try_acquire_owned().ok()
    }

    /// Tells every connection to reconnect elsewhere and close (graceful shutdown).
    pub fn drain(&self) {
        self.inner.draining.send_replace(true);
    }

    /// Resolves when draining starts.
    pub fn draining(&self) -> watch::Receiver<bool> {
        self.inner.draining.subscribe()
    }

    /// Waits until every connection has closed, at most `limit`.
    pub async fn closed(&self, limit: Duration) {
        let _ = tokio::time::timeout(limit, async {
            while !self.inner.hub.is_empty() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
    }

    /// Live connections on this instance.
    pub fn connections(&self) -> usize {
        self.inner.hub.len()
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
        self.inner.bus.healthy()
    }
}
