//! The server's integration tests, as one test binary with one support module: a change to the
//! server compiles and links this binary once, not once per test file.
// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

mod account_channel;
mod account_life;
mod api_auth;
mod api_errors;
mod conversations_api;
mod edge;
mod event_stream;
mod floor_api;
mod health_metrics;
mod invites_api;
mod kafka_outage;
mod limits;
mod media_api;
mod media_tenant_key;
mod messaging_api;
mod messaging_inputs;
mod messaging_rls;
mod messaging_store;
mod notifications_api;
mod people_api;
mod receipts_api;
mod recovery_api;
mod redis_acl;
mod reports_api;
mod retention_api;
mod search_api;
mod search_opensearch;
mod search_stack;
mod search_store;
mod shutdown;
mod socket_io;
mod socket_io_table;
mod startup;
mod store;
mod tenant_archive;
mod tenant_credentials;
mod tenant_purge;
mod traces;
mod web_client;
mod ws_cluster;
mod ws_gateway;
mod ws_heartbeat;
mod ws_limits;
mod ws_redis_outage;
mod ws_revocation;
