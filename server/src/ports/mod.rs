//! The ports: traits the use cases depend on, implemented by the adapters.

pub mod chat;
mod clock;
mod event_log;
mod store;
mod throttle;

pub use chat::ChatStore;
pub use clock::{Clock, SystemClock};
pub use event_log::{Delivery, EventLog, EventLogError, EventStream};
pub use store::{
    AuditEntry, NewSession, NewUser, Rotation, Store, StoreError, StoreResult, StoredUser,
    TokenSwap, UserCreation,
};
pub use throttle::{LoginThrottle, Throttled};
