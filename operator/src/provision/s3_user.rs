//! The tenant's own S3 user as a [`Provisioner`] for cleanup only: it is made before the
//! tenant's Secret is built (`crate::s3_user`), and deleted with the tenant whatever its
//! deletion policy — a credential is not data, and `Retain` keeps the media for the platform,
//! not for a key of a tenant that no longer exists.

use std::time::Duration;

use async_trait::async_trait;
use chemchat_backends::Deleted;
use chemchat_crds::tenant::DeletionPolicy;

use super::{CleanupOutcome, Provisioner, Target};
use crate::error::{Error, Result};
use crate::s3_user::delete_user;

/// Deletes tenants' S3 users through the IAM API.
#[derive(Debug)]
pub struct S3Users {
    timeout: Duration,
}

impl S3Users {
    /// IAM calls that give up on an attempt after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }
}

#[async_trait]
impl Provisioner for S3Users {
    fn name(&self) -> &'static str {
        "s3-user"
    }

    async fn cleanup(&self, target: &Target, _policy: DeletionPolicy) -> Result<CleanupOutcome> {
        let Some(s3) = &target.s3_user else {
            return Ok(CleanupOutcome::NotConfigured);
        };
        let failed = |message: String| Error::Cleanup {
            provisioner: "s3-user",
            message,
        };
        let Some(cluster_key) = &s3.cluster_key else {
            return Err(failed(
                "the cluster's S3 key (spec.objectStorage.credentialsSecretRef) is missing: \
                 the tenant's IAM user cannot be deleted"
                    .to_owned(),
            ));
        };
        match delete_user(&s3.storage, cluster_key, &target.tenant, self.timeout).await {
            Ok((user, Deleted::Deleted)) => Ok(CleanupOutcome::Deleted(format!("IAM user {user}"))),
            Ok((user, Deleted::AlreadyGone)) => {
                Ok(CleanupOutcome::AlreadyGone(format!("IAM user {user}")))
            }
            Err(err) => Err(failed(err.to_string())),
        }
    }
}
