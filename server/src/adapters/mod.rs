//! Adapters: the implementations of the ports, one module per technology.

pub mod attention;
pub mod blobs;
pub mod bus;
pub mod connections;
pub mod elasticsearch;
pub mod events;
pub mod images;
pub mod kafka;
pub mod mail;
pub mod presence;
pub mod probes;
pub mod rate_limit;
pub mod redis;
pub mod sql;
pub mod web_push;
