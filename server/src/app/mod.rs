//! The use cases. All business rules live here.
//!
//! **API boundary**: this layer knows nothing of HTTP, WebSockets, SQL dialects or Redis. It sees
//! the world through the ports in [`crate::ports`] and speaks in [`crate::domain`] values.

mod audit;
pub mod auth;
mod backoff;
pub mod chat;
mod error;
pub(crate) mod html;
pub mod indexer;
mod limits;
pub mod mail;
pub mod media;
pub mod notify;
pub mod people;
pub mod tenancy;

pub use error::{AppError, AppResult, ErrorCode};
pub use limits::METRIC_REFUSED;

use crate::domain::RateTable;
use crate::ports::{Clock, EventLog, RateLimiter, Revocations, SearchIndex, Store};
use auth::{Passwords, TokenIssuer};
use std::sync::Arc;
use tenancy::Tenancy;

/// The application: the ports plus the few services every use case shares.
#[derive(Debug, Clone)]
pub struct App {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    limiter: Arc<dyn RateLimiter>,
    rates: Arc<RateTable>,
    tokens: Arc<TokenIssuer>,
    passwords: Passwords,
    tenancy: Tenancy,
    messaging: chat::Messaging,
    events: Arc<dyn EventLog>,
    search: Arc<dyn SearchIndex>,
    revocations: Arc<dyn Revocations>,
    media: media::MediaSettings,
    policies: Arc<people::PolicyCache>,
    /// Wakes the eraser when a deletion queued messages to erase.
    erasures: Arc<tokio::sync::Notify>,
    /// Where mail goes out, when the server sends mail.
    postbox: Option<mail::Postbox>,
    /// How people who are not looking are notified.
    notify: notify::NotifySettings,
}

/// What [`App::new`] needs.
#[derive(Debug)]
pub struct AppParts {
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Budgets of repeatable actions.
    pub limiter: Arc<dyn RateLimiter>,
    /// The rates those budgets refill at.
    pub rates: RateTable,
    /// Token signing and verification.
    pub tokens: TokenIssuer,
    /// Password hashing.
    pub passwords: Passwords,
    /// Which tenants this server serves.
    pub tenancy: Tenancy,
    /// Message limits and the outbox relay's wake-up signal.
    pub messaging: chat::Messaging,
    /// Where committed events go (the outbox relay ships them there).
    pub events: Arc<dyn EventLog>,
    /// Full-text search over messages.
    pub search: Arc<dyn SearchIndex>,
    /// Where ended sessions are reported, so the connections that depend on them close.
    pub revocations: Arc<dyn Revocations>,
    /// Where media go and how they are processed.
    pub media: media::MediaSettings,
    /// Where mail goes out; `None` when the server sends no mail.
    pub postbox: Option<mail::Postbox>,
    /// How people who are not looking are notified.
    pub notify: notify::NotifySettings,
}

impl App {
    /// Assembles the application from its parts.
    pub fn new(parts: AppParts) -> Self {
        Self {
            store: parts.store,
            clock: parts.clock,
            limiter: parts.limiter,
            rates: Arc::new(parts.rates),
            tokens: Arc::new(parts.tokens),
            passwords: parts.passwords,
            tenancy: parts.tenancy,
            messaging: parts.messaging,
            events: parts.events,
            search: parts.search,
            revocations: parts.revocations,
            media: parts.media,
            policies: Arc::default(),
            erasures: Arc::default(),
            postbox: parts.postbox,
            notify: parts.notify,
        }
    }

    /// The relay that ships this app's outbox to its event log; run it once per process.
    pub fn outbox_relay(&self) -> chat::OutboxRelay {
        chat::OutboxRelay::new(
            Arc::clone(&self.store),
            Arc::clone(&self.events),
            Arc::clone(&self.clock),
            Arc::clone(&self.messaging.outbox),
        )
        .reporting_to(Arc::clone(&self.messaging.relay))
    }

    /// The image pipeline over this app's pending media; run it once per process.
    pub fn media_pipeline(&self) -> media::MediaPipeline {
        media::MediaPipeline::new(
            Arc::clone(&self.store),
            Arc::clone(&self.clock),
            self.media.clone(),
        )
    }

    /// The sweeper of unreferenced media, looking every `every`; run it once per process.
    pub fn media_sweeper(&self, every: std::time::Duration) -> media::MediaSweeper {
        media::MediaSweeper::new(
            Arc::clone(&self.store),
            Arc::clone(&self.clock),
            self.media.clone(),
            every,
        )
    }

    /// The eraser of deleted users' messages; run it once per process.
    pub fn account_eraser(&self) -> people::AccountEraser {
        people::AccountEraser::new(
            Arc::clone(&self.store),
            Arc::clone(&self.clock),
            Arc::clone(&self.erasures),
        )
    }

    /// How the outbox relay is doing.
    pub fn relay_status(&self) -> &chat::RelayStatus {
        &self.messaging.relay
    }

    /// The store, for readiness checks.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The token service, for the edge's authentication.
    pub fn tokens(&self) -> &TokenIssuer {
        &self.tokens
    }
}
