//! The WebSocket load benchmark (`make bench`): a load generator that drives ChemChat's gateway
//! (or the reference fan-out server) and the reference server itself.
//!
//! Nothing here is a test: figures depend on the machine, so they are printed, never asserted.

pub mod conns;
pub mod cpu;
pub mod frames;
pub mod gate;
pub mod reference;
pub mod report;
pub mod run;
pub mod setup;
pub mod sio;
pub mod stats;
