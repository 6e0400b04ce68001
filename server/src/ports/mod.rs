//! The ports: traits the use cases depend on, implemented by the adapters.

mod clock;
mod store;
mod throttle;

pub use clock::{Clock, SystemClock};
pub use store::{
    AuditEntry, NewSession, NewUser, Rotation, Store, StoreError, StoreResult, StoredUser,
    UserCreation,
};
pub use throttle::{LoginThrottle, Throttled};
