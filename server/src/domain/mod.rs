//! Parsed domain values. Every value that crosses the edge is parsed into one of these types
//! once, so the use cases never see an unchecked string.

mod ids;
mod tenant;
mod text;
mod user;

pub use ids::{AuditId, SessionId, UserId};
pub use tenant::{Quotas, Tenant, TenantId, Tier};
pub use text::ValidationError;
pub use user::{DeviceId, DisplayName, Email, LoginName, Password, Username};
