//! A tenant's own S3 user: an IAM user whose only permissions are the S3 actions the server
//! makes, on the tenant's `<tenant>/` prefix of the media bucket, and its access keys. The
//! operator makes one per tenant (through the AWS IAM API, or an S3-compatible store's) and hands
//! its key to the tenant's servers instead of the cluster's, so a compromised tenant pod reads
//! and writes only its own media.
//!
//! Behind the `iam` feature: only the operator compiles the IAM client.

mod admin;
mod policy;

pub use admin::{AccessKey, IamAdmin, UserOutcome};
pub use policy::{MEDIA_POLICY_NAME, USER_PATH, media_policy, tenant_user};
