//! The ports: traits the use cases depend on, implemented by the adapters.

mod attention;
mod blobs;
mod bus;
pub mod chat;
mod clock;
mod commits;
mod connections;
mod event_log;
mod health;
mod images;
mod limits;
mod mail;
mod media;
mod moderation;
mod notify;
mod people;
mod presence;
mod retention;
mod revocations;
mod search;
mod store;

pub use attention::Attention;
pub use blobs::{
    BlobBody, BlobError, BlobRead, BlobStore, ByteRange, DownloadAs, Presigned, read_head,
};
pub use bus::{AccountEnvelope, Bus, BusEnvelope, BusInbox, Membership};
pub use chat::ChatStore;
pub use clock::{Clock, SystemClock};
pub use commits::CommitListener;
pub use connections::{ConnectionLedger, ConnectionLimits, Refusal};
pub use event_log::{Delivery, EventConsumer, EventLog, EventLogError, EventStream};
pub use health::Probe;
pub use images::{ImageOutput, ImagePipeline, RenditionBytes};
pub use limits::{RateLimiter, Throttled};
pub use mail::{Mail, MailError, Mailer};
pub use media::{
    Completion, MediaItem, MediaStore, MediaWrite, NewMedia, Processed, Rendition, StorageQuota,
};
pub use moderation::{
    ModerationStore, NewReport, Report, ReportAction, ReportClosing, ReportFiling,
    ReportResolution, ReportStatus,
};
pub use notify::{
    ConversationNotifications, Digest, DigestLine, MailRecipients, NotificationStore, PushAudience,
    PushListener, PushMessage, PushOutcome, PushSender, PushSubscription, VapidKey,
};
pub use people::{
    AccountChange, AccountErasure, AccountRules, AccountRulesChange, AuditQuery, ErasureProgress,
    Invite, NewAccountToken, NewInvite, PeopleStore, ProfileChange, ProfileUpdate, PublicUser,
    SettingsChange, TenantUsage, UserQuery,
};
pub use presence::{Presence, PresenceError, Status, UserPresence};
pub use retention::{RetentionChange, RetentionStore};
pub use revocations::{AccountNotice, Revocation, Revocations, SessionScope};
pub use search::{
    MARK_END, MARK_START, MessageHit, MessageSearch, SearchError, SearchIndex, SearchPosition,
};
pub use store::{
    AuditEntry, MfaChange, NewSession, NewUser, Rotation, Store, StoreError, StoreResult,
    StoredUser, TokenSwap, UserCreation,
};
