//! Adapters: the implementations of the ports, one module per technology.

pub mod events;
pub mod sql;
pub mod throttle;
