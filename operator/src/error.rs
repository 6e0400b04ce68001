//! The operator's one error type; each variant maps to a stable metric label.

/// Everything a reconcile can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes API call failed.
    #[error("kubernetes API: {0}")]
    Kube(#[source] Box<kube::Error>),
    /// Adding or removing the finalizer failed.
    #[error("finalizer: {0}")]
    Finalizer(String),
    /// An object could not be (de)serialised.
    #[error("serialisation: {0}")]
    Serialization(#[from] serde_json::Error),
    /// A backend cleanup step failed.
    #[error("cleanup by {provisioner}: {message}")]
    Cleanup {
        /// Which provisioner failed.
        provisioner: &'static str,
        /// What went wrong.
        message: String,
    },
    /// A backend outside Kubernetes could not be provisioned; the condition says why, and the
    /// reconcile fails so that `error_policy` retries with backoff.
    #[error("provisioning by {provisioner}: {message}")]
    Provision {
        /// Which provisioner failed.
        provisioner: &'static str,
        /// What went wrong.
        message: String,
    },
    /// The tenant's database role could not be made (its Job failed, or the cluster's URL
    /// cannot be turned into the tenant's); the status says why, `error_policy` retries.
    #[error("database role: {0}")]
    DatabaseRole(String),
    /// The tenant's Redis user could not be made, likewise.
    #[error("redis user: {0}")]
    RedisUser(String),
    /// The tenant's S3 user could not be made (IAM refused or did not answer), likewise.
    #[error("s3 user: {0}")]
    S3User(String),
    /// The resource has no name (the API server never sends one like that).
    #[error("resource without metadata.name")]
    Unnamed,
}

impl From<kube::Error> for Error {
    fn from(err: kube::Error) -> Self {
        Self::Kube(Box::new(err))
    }
}

impl Error {
    /// Short, stable label for the `reason` of the failure metric.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Kube(err) => match err.as_ref() {
                kube::Error::Api(status) if status.is_conflict() => "kube_conflict",
                kube::Error::Api(status) if status.is_forbidden() => "kube_forbidden",
                kube::Error::Api(_) => "kube_api",
                _ => "kube_client",
            },
            Self::Finalizer(_) => "finalizer",
            Self::Serialization(_) => "serialization",
            Self::Cleanup { .. } => "cleanup",
            Self::Provision { .. } => "provision",
            Self::DatabaseRole(_) => "database_role",
            Self::RedisUser(_) => "redis_user",
            Self::S3User(_) => "s3_user",
            Self::Unnamed => "unnamed",
        }
    }

    /// True when the API answered 404, which several steps treat as "already gone".
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Kube(err) if matches!(err.as_ref(), kube::Error::Api(s) if s.is_not_found()))
    }
}

/// Result alias of the operator.
pub type Result<T, E = Error> = std::result::Result<T, E>;
