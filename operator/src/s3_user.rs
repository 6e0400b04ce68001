//! A tenant's own S3 user, under `objectStorage.tenantCredentials: PerTenant`: provisioned on a
//! reconcile before the tenant's Secret is built, like its database role and Redis user
//! (`crate::database_role`), but through the IAM API directly — no Job: the operator holds the
//! cluster's key, which may manage IAM users.
//!
//! The Secret `s3-user-<tenant>` in the cluster's namespace keeps the user's access key and,
//! in annotations, the user and a hash of its policy. A pass whose Secret is there with the
//! same user and policy makes no IAM call at all; a changed policy (bucket, region, policy of a
//! new operator) is put again; a missing Secret makes the user (if needed), its policy and a new
//! key. Rotation: delete the Secret; the next pass makes a new key, the tenant's Secret gets it
//! (rolling its pods), and once no pod of an older version is left — the pods being rolled out
//! still use the old key — the user's older keys are deleted ([`S3User::retire_older_keys`]).
//! Where a rotation stands is read from the cluster on every pass (the key Secret's
//! annotation, the live Deployment), so one interrupted by a restart of the operator finishes.

use std::time::Duration;

use chemchat_backends::Deleted;
use chemchat_backends::object_storage_users::{AccessKey, IamAdmin};
use chemchat_crds::cluster::{ObjectStorageSpec, TenantCredentials};
use chemchat_crds::contract as env;
use chemchat_crds::{ChemChatCluster, ChemChatTenant};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::apply;
use crate::build::{
    ChildKind, S3_POLICY_ANNOTATION, S3_RETIRED_ANNOTATION, S3_USER_ANNOTATION, SECRET_NAME,
    key_of, s3_key_secret, s3_policy_hash, s3_user_name, s3_user_secret_name,
};
use crate::database_role::RoleStep;
use crate::error::Result;
use crate::observe;

/// The object storage of `cluster` when its tenants get users of their own.
pub fn per_tenant(cluster: &ChemChatCluster) -> Option<&ObjectStorageSpec> {
    cluster
        .spec
        .object_storage
        .as_ref()
        .filter(|s| s.tenant_credentials == TenantCredentials::PerTenant)
}

/// The IAM client of `storage`, with the cluster's key.
pub fn iam_admin(
    storage: &ObjectStorageSpec,
    cluster_key: &AccessKey,
    timeout: Duration,
) -> IamAdmin {
    IamAdmin::new(
        storage.iam_endpoint.as_deref(),
        &storage.region,
        cluster_key,
        timeout,
    )
}

/// The tenant's S3 key, ready for its Secret.
#[derive(Debug, Clone)]
pub struct TenantS3Key {
    /// The access key (`Debug` shows its id only).
    pub key: AccessKey,
    /// The IAM user it belongs to.
    pub user: String,
    /// The user's older keys are still to be deleted, once every server pod runs with this one.
    pub retire: bool,
}

/// Where one pass stands with the S3 user of one tenant.
pub struct S3User<'a> {
    /// The API client.
    pub client: &'a Client,
    /// The tenant.
    pub tenant: &'a ChemChatTenant,
    /// Its cluster, whose namespace keeps the key Secret.
    pub cluster: &'a ChemChatCluster,
    /// The cluster's object storage (`PerTenant`).
    pub storage: &'a ObjectStorageSpec,
    /// The cluster's key, which manages IAM users.
    pub cluster_key: &'a AccessKey,
    /// The tenant's namespace, where its Secret says which key its servers hold now.
    pub namespace: &'a str,
    /// How long one IAM call may take.
    pub timeout: Duration,
}

impl std::fmt::Debug for S3User<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the client; the cluster's key shows its id only.
        f.debug_struct("S3User")
            .field("tenant", &self.tenant.name_any())
            .field("bucket", &self.storage.bucket)
            .field("cluster_key", self.cluster_key)
            .finish()
    }
}

impl S3User<'_> {
    fn admin(&self) -> IamAdmin {
        iam_admin(self.storage, self.cluster_key, self.timeout)
    }

    fn secrets(&self) -> Api<Secret> {
        Api::namespaced(
            self.client.clone(),
            &self.cluster.namespace().unwrap_or_default(),
        )
    }

    /// Advances the tenant's S3 user by one step. `paused`: write nothing, use what exists.
    pub async fn ensure(&self, paused: bool) -> Result<RoleStep<TenantS3Key>> {
        let name = self.tenant.name_any();
        let secret_name = s3_user_secret_name(&name);
        let user = s3_user_name(self.storage, &name);
        let policy = s3_policy_hash(self.storage, &name);
        let secrets = self.secrets();
        if let Some(secret) = secrets.get_opt(&secret_name).await? {
            let annotations = secret.annotations();
            let kept_user = annotations.get(S3_USER_ANNOTATION).cloned();
            match key_of(&secret) {
                Some(key) if kept_user.as_deref() == Some(user.as_str()) => {
                    let retire =
                        annotations.get(S3_RETIRED_ANNOTATION).map(String::as_str) != Some("true");
                    let ready = TenantS3Key { key, user, retire };
                    if annotations.get(S3_POLICY_ANNOTATION) == Some(&policy) {
                        return Ok(RoleStep::Ready(ready));
                    }
                    return self.update_policy(ready, &policy, paused).await;
                }
                _ if paused => {
                    return Ok(RoleStep::Waiting(format!(
                        "paused before the S3 user of tenant {name} was made anew"
                    )));
                }
                // A key of another user (the bucket changed), or no key: both go.
                _ => {
                    if let Some(old) = kept_user.filter(|old| *old != user)
                        && let Err(err) = self.admin().delete_user(&old).await
                    {
                        return Ok(RoleStep::Failed(err.to_string()));
                    }
                    match secrets.delete(&secret_name, &DeleteParams::default()).await {
                        Ok(_) => {}
                        Err(kube::Error::Api(s)) if s.code == 404 => {}
                        Err(err) => return Err(err.into()),
                    }
                }
            }
        } else if paused {
            return Ok(RoleStep::Waiting(format!(
                "paused before the S3 user of tenant {name} was made"
            )));
        }
        self.make(user).await
    }

    /// The policy changed (bucket, region, or this operator's policy): put it again.
    async fn update_policy(
        &self,
        ready: TenantS3Key,
        policy: &str,
        paused: bool,
    ) -> Result<RoleStep<TenantS3Key>> {
        let name = self.tenant.name_any();
        if paused {
            return Ok(RoleStep::Waiting(format!(
                "paused before the S3 policy of tenant {name} was updated"
            )));
        }
        let s = self.storage;
        if let Err(err) = self
            .admin()
            .put_media_policy(&ready.user, &s.region, &s.bucket, &name)
            .await
        {
            return Ok(RoleStep::Failed(err.to_string()));
        }
        let patch = json!({"metadata": {"annotations": {S3_POLICY_ANNOTATION: policy}}});
        self.secrets()
            .patch(
                &s3_user_secret_name(&name),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
        Ok(RoleStep::Ready(ready))
    }

    /// The user (unless it exists), its policy and a new key, kept in a new Secret.
    async fn make(&self, user: String) -> Result<RoleStep<TenantS3Key>> {
        let name = self.tenant.name_any();
        let s = self.storage;
        // IAM allows two keys per user: of those left, keep only the one the tenant's servers
        // use until they have rolled to the new one.
        let serving = self.serving_key_id().await?;
        let admin = self.admin();
        let older_key = match admin.key_ids(&user).await {
            Ok(ids) => ids.iter().any(|id| Some(id.as_str()) != serving.as_deref()),
            Err(err) => return Ok(RoleStep::Failed(err.to_string())),
        };
        // A rotation made while the previous one still rolls out: its older key is held by
        // pods of an older version, and there is no room for a third key.
        if older_key && !self.pods_on_one_template().await? {
            return Ok(RoleStep::Waiting(format!(
                "a new S3 key of tenant {name} waits until the previous one has rolled out: \
                 pods of an older version still hold the key before it"
            )));
        }
        let made = async {
            admin.ensure_user(&user).await?;
            admin
                .put_media_policy(&user, &s.region, &s.bucket, &name)
                .await?;
            admin.delete_keys_except(&user, serving.as_deref()).await?;
            admin.create_key(&user).await
        };
        let key = match made.await {
            Ok(key) => key,
            Err(err) => return Ok(RoleStep::Failed(err.to_string())),
        };
        let fresh = s3_key_secret(self.tenant, self.cluster, s, &key);
        match self.secrets().create(&PostParams::default(), &fresh).await {
            Ok(_) => Ok(RoleStep::Ready(TenantS3Key {
                key,
                user,
                retire: true,
            })),
            Err(err) => {
                // Kept nowhere, the new key is of no use: delete it (best effort; the next
                // key made deletes what is left anyway).
                let _ = admin.delete_key(&user, key.id()).await;
                match err {
                    // Made by a pass whose answer was lost: the next pass uses that one.
                    kube::Error::Api(s) if s.code == 409 => Ok(RoleStep::Waiting(format!(
                        "the S3 key Secret of tenant {name} was made concurrently"
                    ))),
                    err => Err(err.into()),
                }
            }
        }
    }

    /// Every pod of the tenant's server Deployment runs its current template (whose Secret
    /// carries the key [`Self::serving_key_id`] reads), or there is no Deployment.
    async fn pods_on_one_template(&self) -> Result<bool> {
        let name = self.tenant.name_any();
        let live =
            apply::list_live(self.client, &name, self.namespace, &[ChildKind::Deployment]).await?;
        Ok(observe::workload(&live).on_one_template())
    }

    /// The access key id in the tenant's Secret now, if any.
    async fn serving_key_id(&self) -> Result<Option<String>> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), self.namespace);
        let Some(secret) = api.get_opt(SECRET_NAME).await? else {
            return Ok(None);
        };
        Ok(secret
            .data
            .as_ref()
            .and_then(|d| d.get(env::S3_ACCESS_KEY_ID))
            .map(|b| String::from_utf8_lossy(&b.0).into_owned()))
    }

    /// Once every server pod runs with `key` (the caller checks the rollout): deletes the
    /// user's other keys and notes it on the key Secret, so later passes make no IAM call.
    /// `Ok(n)`: `n` keys deleted.
    pub async fn retire_older_keys(
        &self,
        key: &TenantS3Key,
    ) -> Result<chemchat_backends::Result<usize>> {
        let deleted = match self
            .admin()
            .delete_keys_except(&key.user, Some(key.key.id()))
            .await
        {
            Ok(n) => n,
            Err(err) => return Ok(Err(err)),
        };
        let patch = json!({"metadata": {"annotations": {S3_RETIRED_ANNOTATION: "true"}}});
        self.secrets()
            .patch(
                &s3_user_secret_name(&self.tenant.name_any()),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
        Ok(Ok(deleted))
    }
}

/// Deletes `tenant`'s S3 user, its keys and policy (a tenant's credentials go with it whatever
/// its deletion policy: they are not data).
pub async fn delete_user(
    storage: &ObjectStorageSpec,
    cluster_key: &AccessKey,
    tenant: &str,
    timeout: Duration,
) -> chemchat_backends::Result<(String, Deleted)> {
    let user = s3_user_name(storage, tenant);
    let deleted = iam_admin(storage, cluster_key, timeout)
        .delete_user(&user)
        .await?;
    Ok((user, deleted))
}
