//! Server-generated identifiers: UUID v7, so they sort by creation time.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            /// Parses an id a client sent; `None` when it is not a UUID.
            pub fn parse(raw: &str) -> Option<Self> {
                Uuid::try_parse(raw).ok().map(Self)
            }

            /// The 16 bytes of the id, for compact encodings such as sync cursors.
            pub fn to_bytes(self) -> [u8; 16] {
                self.0.into_bytes()
            }

            /// The id from its 16 bytes.
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Uuid::from_bytes(bytes))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// A user, unique within its tenant.
    UserId
);
uuid_id!(
    /// A login session: one refresh-token family on one device.
    SessionId
);
uuid_id!(
    /// An audit-log entry.
    AuditId
);
uuid_id!(
    /// A conversation (DM or group), unique within its tenant.
    ConversationId
);
uuid_id!(
    /// A message, unique within its tenant.
    MessageId
);
uuid_id!(
    /// An uploaded file and its renditions, unique within its tenant.
    MediaId
);
uuid_id!(
    /// An event of the event log (outbox); consumers deduplicate on it.
    EventId
);
uuid_id!(
    /// A report of a message to the tenant's moderators.
    ReportId
);
uuid_id!(
    /// An invitation to register in a tenant.
    InviteId
);
uuid_id!(
    /// A browser's Web Push subscription, unique within its tenant.
    PushSubscriptionId
);
