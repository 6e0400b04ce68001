//! The ChemChat operator: `fetch → validate → build → apply → status` for ChemChatCluster and
//! ChemChatTenant resources.
//!
//! **API boundary**: [`build`] and [`plan`] are pure (no client, no clock); everything that
//! talks to the API server lives in the reconcilers and [`apply`].

pub mod build;
pub mod cli;
pub mod error;
pub mod labels;
pub mod plan;
pub mod render;
pub mod run;

pub use error::{Error, Result};
