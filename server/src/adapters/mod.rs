//! Adapters: the implementations of the ports, one module per technology.

pub mod bus;
pub mod elasticsearch;
pub mod events;
pub mod kafka;
pub mod presence;
pub mod redis;
pub mod sql;
pub mod throttle;
