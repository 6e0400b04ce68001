//! The IAM calls that make, key and delete a tenant's S3 user. Each step is idempotent: a user
//! that exists is `Unchanged`, a policy is put as a whole, a user already deleted is
//! `AlreadyGone`, so the operator may repeat any of them after a lost answer.

use std::time::Duration;

use aws_sdk_iam::Client;
use aws_sdk_iam::config::timeout::TimeoutConfig;
use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use secrecy::{ExposeSecret, SecretString};

use super::policy::{MEDIA_POLICY_NAME, USER_PATH, media_policy};
use crate::Deleted;
use crate::error::{Backend, Error, Result};

/// AWS's IAM endpoint, for messages; the SDK resolves the same from the region.
const AWS_IAM: &str = "https://iam.amazonaws.com";

/// An access key id and its secret. `Debug` shows the id only: it names the key in logs and
/// conditions, the secret never leaves the Secret it is kept in.
#[derive(Clone)]
pub struct AccessKey {
    id: String,
    secret: SecretString,
}

impl AccessKey {
    /// Wraps an access key id and its secret.
    pub fn new(id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            secret: SecretString::from(secret.into()),
        }
    }

    /// The access key id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The secret access key, for the one place that stores or signs with it.
    pub fn secret(&self) -> &str {
        self.secret.expose_secret()
    }
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AccessKey({}, <redacted>)", self.id)
    }
}

/// What [`IamAdmin::ensure_user`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserOutcome {
    /// The user did not exist and was created.
    Created,
    /// The user existed (possibly created concurrently) and was left as is.
    Unchanged,
}

/// IAM calls with the cluster's (administrator's) key.
#[derive(Clone)]
pub struct IamAdmin {
    client: Client,
    /// The endpoint, for messages.
    address: String,
}

impl std::fmt::Debug for IamAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the client: its config holds the credentials provider.
        f.debug_struct("IamAdmin")
            .field("address", &self.address)
            .finish()
    }
}

impl IamAdmin {
    /// A client of the IAM API at `endpoint` (`None`: AWS's, resolved from `region`), signing
    /// with `key`, giving up on an attempt after `timeout`. Nothing is contacted yet.
    pub fn new(endpoint: Option<&str>, region: &str, key: &AccessKey, timeout: Duration) -> Self {
        let credentials = Credentials::new(key.id(), key.secret(), None, None, "chemchat");
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(timeout)
            .operation_attempt_timeout(timeout)
            .build();
        let mut config = aws_sdk_iam::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .credentials_provider(credentials)
            .timeout_config(timeouts);
        if let Some(endpoint) = endpoint {
            config = config.endpoint_url(endpoint);
        }
        Self {
            client: Client::from_conf(config.build()),
            address: endpoint.unwrap_or(AWS_IAM).trim_end_matches('/').to_owned(),
        }
    }

    /// The IAM endpoint, for messages.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Creates `user` under [`USER_PATH`] unless it exists.
    pub async fn ensure_user(&self, user: &str) -> Result<UserOutcome> {
        match self
            .client
            .create_user()
            .user_name(user)
            .path(USER_PATH)
            .send()
            .await
        {
            Ok(_) => Ok(UserOutcome::Created),
            Err(e) if e.code() == Some("EntityAlreadyExists") => Ok(UserOutcome::Unchanged),
            Err(e) => Err(self.failed("create user", user, e)),
        }
    }

    /// Gives `user` its media policy ([`media_policy`]), replacing whatever it said before.
    pub async fn put_media_policy(
        &self,
        user: &str,
        region: &str,
        bucket: &str,
        tenant: &str,
    ) -> Result<()> {
        self.client
            .put_user_policy()
            .user_name(user)
            .policy_name(MEDIA_POLICY_NAME)
            .policy_document(media_policy(region, bucket, tenant).to_string())
            .send()
            .await
            .map_err(|e| self.failed("put the media policy of", user, e))?;
        Ok(())
    }

    /// A new access key of `user`. IAM allows two per user: delete the retired one first
    /// ([`IamAdmin::delete_keys_except`]).
    pub async fn create_key(&self, user: &str) -> Result<AccessKey> {
        let created = self
            .client
            .create_access_key()
            .user_name(user)
            .send()
            .await
            .map_err(|e| self.failed("create an access key of", user, e))?;
        let key = created.access_key().ok_or_else(|| Error::Rejected {
            backend: Backend::Iam,
            address: self.address.clone(),
            operation: "create an access key of",
            resource: user.to_owned(),
            detail: "the answer carries no key".to_owned(),
        })?;
        Ok(AccessKey::new(key.access_key_id(), key.secret_access_key()))
    }

    /// The ids of `user`'s access keys; none when the user does not exist.
    pub async fn key_ids(&self, user: &str) -> Result<Vec<String>> {
        match self.client.list_access_keys().user_name(user).send().await {
            Ok(listed) => Ok(listed
                .access_key_metadata()
                .iter()
                .filter_map(|k| k.access_key_id().map(str::to_owned))
                .collect()),
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(Vec::new()),
            Err(e) => Err(self.failed("list the access keys of", user, e)),
        }
    }

    /// Deletes one access key of `user`.
    pub async fn delete_key(&self, user: &str, id: &str) -> Result<Deleted> {
        match self
            .client
            .delete_access_key()
            .user_name(user)
            .access_key_id(id)
            .send()
            .await
        {
            Ok(_) => Ok(Deleted::Deleted),
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(Deleted::AlreadyGone),
            Err(e) => Err(self.failed("delete an access key of", user, e)),
        }
    }

    /// Deletes every access key of `user` but `keep` (the one its servers hold); how many went.
    pub async fn delete_keys_except(&self, user: &str, keep: Option<&str>) -> Result<usize> {
        let mut deleted = 0;
        for id in self.key_ids(user).await? {
            if Some(id.as_str()) != keep && self.delete_key(user, &id).await? == Deleted::Deleted {
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    /// Deletes `user`: its access keys and inline policies first, as IAM requires.
    pub async fn delete_user(&self, user: &str) -> Result<Deleted> {
        self.delete_keys_except(user, None).await?;
        let policies = match self
            .client
            .list_user_policies()
            .user_name(user)
            .send()
            .await
        {
            Ok(listed) => listed.policy_names().to_vec(),
            Err(e) if e.code() == Some("NoSuchEntity") => return Ok(Deleted::AlreadyGone),
            Err(e) => return Err(self.failed("list the policies of", user, e)),
        };
        for policy in policies {
            match self
                .client
                .delete_user_policy()
                .user_name(user)
                .policy_name(&policy)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if e.code() == Some("NoSuchEntity") => {}
                Err(e) => return Err(self.failed("delete a policy of", user, e)),
            }
        }
        match self.client.delete_user().user_name(user).send().await {
            Ok(_) => Ok(Deleted::Deleted),
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(Deleted::AlreadyGone),
            Err(e) => Err(self.failed("delete user", user, e)),
        }
    }

    /// An SDK failure as this crate's error: no answer is `Unreachable`, an answer `Rejected`.
    fn failed<E, R>(&self, operation: &'static str, user: &str, e: SdkError<E, R>) -> Error
    where
        E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        match &e {
            SdkError::ServiceError(service) => {
                let err = service.err();
                Error::Rejected {
                    backend: Backend::Iam,
                    address: self.address.clone(),
                    operation,
                    resource: user.to_owned(),
                    detail: format!(
                        "{}: {}",
                        err.code().unwrap_or("error"),
                        err.message().unwrap_or("no message")
                    ),
                }
            }
            _ => Error::Unreachable {
                backend: Backend::Iam,
                address: self.address.clone(),
                detail: DisplayErrorContext(&e).to_string(),
            },
        }
    }
}
