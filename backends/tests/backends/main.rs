//! `TopicAdmin` and `IndexAdmin` against the real services of `make services`, as one test binary.
#![allow(clippy::unwrap_used)]

mod search_index;
mod support;
mod topics;
