//! A tenant's own S3 user (under `objectStorage.tenantCredentials: PerTenant`): the Secret that
//! keeps its access key in the cluster's namespace, and what that key was made for. Pure: the
//! IAM calls and the Secret's lifecycle are in `crate::s3_user`.
//!
//! The Secret lives beside the cluster's S3 key, where no tenant pod runs; only the tenant's
//! own key reaches the tenant namespace.

use std::collections::BTreeMap;

use chemchat_backends::object_storage_users::{AccessKey, media_policy, tenant_user};
use chemchat_crds::cluster::ObjectStorageSpec;
use chemchat_crds::{ChemChatCluster, ChemChatTenant};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use serde_json::json;

use super::{hash, owner_reference};
use crate::labels;

/// Prefix of the key Secret's name; the tenant id follows.
pub const S3_USER_PREFIX: &str = "s3-user-";
/// Keys of the access key in the key Secret: those of the cluster's `credentialsSecretRef`.
pub const ACCESS_KEY_ID_KEY: &str = "accessKeyId";
/// See [`ACCESS_KEY_ID_KEY`].
pub const SECRET_ACCESS_KEY_KEY: &str = "secretAccessKey";
/// Annotation of the key Secret: the IAM user the key belongs to.
pub const S3_USER_ANNOTATION: &str = "chemchat.io/s3-user";
/// Annotation of the key Secret: a hash of the policy the user was given, so a changed bucket,
/// region or policy is put again, and an unchanged one costs no IAM call.
pub const S3_POLICY_ANNOTATION: &str = "chemchat.io/s3-policy";
/// Annotation of the key Secret, `"true"` once the user's older keys are deleted: set once the
/// tenant's pods all run with this key, so a rotation retires the old key exactly once; while
/// it is missing, a rotation waits for the tenant's rollout (also across operator restarts).
pub const S3_RETIRED_ANNOTATION: &str = "chemchat.io/s3-older-keys-deleted";

/// Name of the Secret keeping `tenant`'s S3 access key.
pub fn s3_user_secret_name(tenant: &str) -> String {
    format!("{S3_USER_PREFIX}{tenant}")
}

/// The IAM user of `tenant` in this object storage.
pub fn s3_user_name(storage: &ObjectStorageSpec, tenant: &str) -> String {
    tenant_user(&storage.bucket, tenant)
}

/// What the user's policy is made of, hashed: [`S3_POLICY_ANNOTATION`].
pub fn s3_policy_hash(storage: &ObjectStorageSpec, tenant: &str) -> String {
    hash(&json!([
        s3_user_name(storage, tenant),
        media_policy(&storage.region, &storage.bucket, tenant)
    ]))
}

/// The Secret keeping `key` of `tenant`'s user, owned by the tenant. Deleting it rotates the
/// key: the operator makes a new one and, once the tenant's pods have all rolled to it, deletes
/// the old.
pub fn s3_key_secret(
    tenant: &ChemChatTenant,
    cluster: &ChemChatCluster,
    storage: &ObjectStorageSpec,
    key: &AccessKey,
) -> Secret {
    let name = tenant.name_any();
    let uid = tenant.uid().unwrap_or_default();
    Secret {
        metadata: ObjectMeta {
            name: Some(s3_user_secret_name(&name)),
            namespace: cluster.namespace(),
            labels: Some(labels::labels(&name, "s3-user")),
            annotations: Some(BTreeMap::from([
                (S3_USER_ANNOTATION.to_owned(), s3_user_name(storage, &name)),
                (
                    S3_POLICY_ANNOTATION.to_owned(),
                    s3_policy_hash(storage, &name),
                ),
            ])),
            owner_references: (!uid.is_empty()).then(|| vec![owner_reference(&name, &uid)]),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_owned()),
        data: Some(BTreeMap::from([
            (
                ACCESS_KEY_ID_KEY.to_owned(),
                ByteString(key.id().as_bytes().to_vec()),
            ),
            (
                SECRET_ACCESS_KEY_KEY.to_owned(),
                ByteString(key.secret().as_bytes().to_vec()),
            ),
        ])),
        ..Secret::default()
    }
}

/// The access key kept in a key Secret, when both halves are there.
pub fn key_of(secret: &Secret) -> Option<AccessKey> {
    let data = secret.data.as_ref()?;
    let text = |k: &str| {
        data.get(k)
            .map(|b| String::from_utf8_lossy(&b.0).into_owned())
            .filter(|v| !v.is_empty())
    };
    Some(AccessKey::new(
        text(ACCESS_KEY_ID_KEY)?,
        text(SECRET_ACCESS_KEY_KEY)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storage(bucket: &str) -> ObjectStorageSpec {
        serde_json::from_value(json!({
            "region": "eu-west-1", "bucket": bucket,
            "credentialsSecretRef": {"name": "media-keys"}
        }))
        .unwrap()
    }

    #[test]
    fn the_policy_hash_follows_the_bucket_and_the_tenant() {
        let media = storage("media");
        assert_eq!(
            s3_policy_hash(&media, "acme"),
            s3_policy_hash(&media, "acme")
        );
        assert_ne!(
            s3_policy_hash(&media, "acme"),
            s3_policy_hash(&media, "globex")
        );
        assert_ne!(
            s3_policy_hash(&media, "acme"),
            s3_policy_hash(&storage("other"), "acme")
        );
    }

    #[test]
    fn the_default_mode_is_per_tenant() {
        assert_eq!(
            storage("media").tenant_credentials,
            chemchat_crds::cluster::TenantCredentials::PerTenant
        );
    }

    #[test]
    fn the_key_round_trips_through_the_secret() {
        let tenant: ChemChatTenant = serde_json::from_value(json!({
            "apiVersion": "chemchat.io/v1alpha1", "kind": "ChemChatTenant",
            "metadata": {"name": "acme", "uid": "u1"},
            "spec": {"clusterRef": {"name": "main", "namespace": "chemchat-system"},
                     "displayName": "Acme", "tier": "Free"}
        }))
        .unwrap();
        let cluster: ChemChatCluster = serde_json::from_value(json!({
            "apiVersion": "chemchat.io/v1alpha1", "kind": "ChemChatCluster",
            "metadata": {"name": "main", "namespace": "chemchat-system"},
            "spec": {"image": {"repository": "chemchat/chemchat-server", "tag": "dev"},
                     "postgres": {"urlSecretRef": {"name": "b", "key": "p"}},
                     "redis": {"urlSecretRef": {"name": "b", "key": "r"}},
                     "auth": {"jwtSecretRef": {"name": "b", "key": "j"}}}
        }))
        .unwrap();
        let key = AccessKey::new("AKIAACME", "secret");
        let secret = s3_key_secret(&tenant, &cluster, &storage("media"), &key);
        assert_eq!(secret.metadata.name.as_deref(), Some("s3-user-acme"));
        assert_eq!(
            secret.metadata.namespace.as_deref(),
            Some("chemchat-system")
        );
        let back = key_of(&secret).unwrap();
        assert_eq!((back.id(), back.secret()), ("AKIAACME", "secret"));
        let annotations = secret.metadata.annotations.unwrap();
        assert!(annotations[S3_USER_ANNOTATION].starts_with("chemchat-acme-"));
        assert!(!annotations.contains_key(S3_RETIRED_ANNOTATION));
    }
}
