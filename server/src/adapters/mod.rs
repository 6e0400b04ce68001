//! Adapters: the implementations of the ports, one module per technology.

pub mod bus;
pub mod events;
pub mod presence;
pub mod redis;
pub mod sql;
pub mod throttle;
