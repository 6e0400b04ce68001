//! The operator's integration tests, one binary (one link on a small machine): `build` against
//! committed snapshots, the reconcilers against the scripted API server in `support`, the
//! provisioners against the real tansu and osmem, the tenants' S3 users against moto, and the operator's own HTTP endpoints.

#![allow(clippy::unwrap_used)]

mod children;
mod cluster;
mod database_role;
mod deletion;
mod edge;
mod http;
mod isolation;
mod provision;
mod redis_user;
mod s3_user;
mod scaling;
mod snapshots;
mod status;
mod support;
mod tenant;
mod traces;
