//! The tenant's backends outside Kubernetes — Kafka topics and the search index — as one crate
//! that the server (which writes to them) and the operator (which provisions and deletes them)
//! share, so the index mapping and the topic settings have a single definition.

pub mod search_index;
