//! `TopicAdmin`, `IndexAdmin` and `IamAdmin` against the real services of `make services`, as one
//! test binary.
#![allow(clippy::unwrap_used)]

mod object_storage_users;
mod search_index;
mod support;
mod topics;
