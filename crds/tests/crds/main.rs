//! The CRDs as generated from the Rust types, as one test binary: the committed YAML, the CEL
//! rules and the examples.
#![allow(clippy::unwrap_used)]

mod cel;
mod examples;
mod generated;
