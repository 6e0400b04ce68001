//! ChemChat's Kubernetes API and the configuration contract between operator and server.
//!
//! The [`contract`] module has no dependencies so the server can use it without pulling in
//! the Kubernetes client stack.

pub mod contract;
