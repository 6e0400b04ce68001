//! `BlobStore` adapters: a local folder (the embedded default) and S3.

mod local;
mod s3;

pub use local::LocalBlobs;
pub use s3::{S3Blobs, S3Settings};
