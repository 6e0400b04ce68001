//! The ports: traits the use cases depend on, implemented by the adapters.

mod bus;
pub mod chat;
mod clock;
mod commits;
mod event_log;
mod presence;
mod search;
mod store;
mod throttle;

pub use bus::{Bus, BusEnvelope, BusInbox};
pub use chat::ChatStore;
pub use clock::{Clock, SystemClock};
pub use commits::CommitListener;
pub use event_log::{Delivery, EventConsumer, EventLog, EventLogError, EventStream};
pub use presence::{Presence, PresenceError, Status, UserPresence};
pub use search::{
    MARK_END, MARK_START, MessageHit, MessageSearch, SearchError, SearchIndex, SearchPosition,
};
pub use store::{
    AuditEntry, NewSession, NewUser, Rotation, Store, StoreError, StoreResult, StoredUser,
    TokenSwap, UserCreation,
};
pub use throttle::{LoginThrottle, Throttled};
