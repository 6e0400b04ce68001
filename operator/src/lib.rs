//! The ChemChat operator: `fetch → validate → build → apply → status` for ChemChatCluster and
//! ChemChatTenant resources.
//!
//! **API boundary**: [`build`], [`plan`], [`observe`] and [`conditions`] are pure (no client,
//! no clock); everything that talks to the API server (or IAM) lives in [`tenant`], [`cluster`],
//! [`apply`], [`secrets`], [`database_role`], [`retire`], [`s3_user`], [`jobs`], [`purge`],
//! [`provision`] and [`leader`].

pub mod api_calls;
pub mod apply;
pub mod backoff;
pub mod build;
pub mod cli;
pub mod cluster;
pub mod conditions;
pub mod context;
pub mod database_role;
pub mod deletion;
pub mod error;
pub mod finalizers;
pub mod heartbeat;
pub mod http;
pub mod jobs;
pub mod labels;
pub mod leader;
pub mod metrics;
pub mod observe;
pub mod plan;
pub mod predicates;
pub mod provision;
pub mod proxies;
pub mod purge;
pub mod quantity;
pub mod render;
pub mod retire;
pub mod run;
pub mod s3_user;
pub mod secrets;
pub mod tenant;

pub use error::{Error, Result};
