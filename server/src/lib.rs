//! ChemChat's chat server.
//!
//! Layers, outermost first: [`http`] (the edge) → [`app`] (use cases) → [`ports`] (traits) ←
//! [`adapters`] (SQL, in-process throttling). [`domain`] holds the parsed values every layer
//! shares. See ARCHITECTURE.md for the map and the invariants.

pub mod adapters;
pub mod app;
pub mod archive;
pub mod cli;
pub mod config;
pub mod domain;
pub mod gateway;
pub mod http;
pub mod ports;
pub mod server;
pub mod tasks;
pub mod telemetry;

pub use server::{Server, shutdown_signal};
