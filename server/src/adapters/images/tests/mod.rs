//! Tests for the pipeline. Fixtures are built in code, so the suite needs no files.

mod bombs;
mod fixtures;
mod inspect;
mod metadata_fixtures;
mod pipeline;
mod robustness;
mod stripping;
