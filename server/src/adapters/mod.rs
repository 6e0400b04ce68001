//! Adapters: the implementations of the ports, one module per technology.

pub mod sql;
pub mod throttle;
