//! One error type for every backend, phrased for the person reading a condition message: which
//! backend, at which address, and what it said.

use std::fmt;

/// Which backend an error comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The Kafka brokers (the event stream).
    Kafka,
    /// Elasticsearch or OpenSearch (the messages index).
    Search,
    /// The AWS IAM API, or an S3-compatible store's (the tenants' S3 users).
    Iam,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Kafka => "Kafka",
            Self::Search => "search",
            Self::Iam => "IAM",
        })
    }
}

/// Everything provisioning a topic or an index can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nothing answered at the address (connection refused, DNS, TLS, timeout).
    #[error("{backend} unreachable at {address}: {detail}")]
    Unreachable {
        /// Which backend.
        backend: Backend,
        /// The bootstrap servers or the URL that was tried.
        address: String,
        /// What the client saw.
        detail: String,
    },
    /// The backend answered and refused the operation.
    #[error("{backend} at {address} refused to {operation} {resource}: {detail}")]
    Rejected {
        /// Which backend.
        backend: Backend,
        /// The bootstrap servers or the URL.
        address: String,
        /// What was attempted (`create`, `alter`, `delete`, `describe`…).
        operation: &'static str,
        /// The topic or index.
        resource: String,
        /// The backend's answer.
        detail: String,
    },
    /// The backend does not implement an API this step needs (the broker does not offer it in
    /// its API versions). Retrying will not help; upgrading the backend will.
    #[error("{backend} at {address} does not support {api}, needed to {operation} {resource}")]
    Unsupported {
        /// Which backend.
        backend: Backend,
        /// The bootstrap servers or the URL.
        address: String,
        /// The missing API, e.g. `CreatePartitions`.
        api: &'static str,
        /// What was attempted.
        operation: &'static str,
        /// The topic or index.
        resource: String,
    },
    /// A topic has more partitions than asked for. Kafka can add partitions but never remove
    /// them, so this needs a person: raise the setting, or recreate the topic (losing its data).
    #[error(
        "topic {topic} has {current} partitions and the settings ask for {wanted}: Kafka cannot \
         remove partitions; set at least {current}, or recreate the topic"
    )]
    PartitionsCannotShrink {
        /// The topic.
        topic: String,
        /// Partitions it has.
        current: i32,
        /// Partitions asked for.
        wanted: i32,
    },
    /// Settings or an address this crate refuses before calling the backend.
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// The setting or address at fault.
        what: &'static str,
        /// Why.
        detail: String,
    },
}

impl Error {
    /// True when the backend did not answer, so a retry later may succeed as is.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
