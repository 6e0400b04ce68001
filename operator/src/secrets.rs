//! Reads the backend credentials a ChemChatCluster references from its namespace.

use std::collections::BTreeMap;

use chemchat_backends::BasicAuth;
use chemchat_backends::object_storage_users::AccessKey;
use chemchat_crds::ChemChatCluster;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::{Client, ResourceExt};

use crate::build::BackendSecrets;
use crate::error::Result;

/// A referenced Secret or key that does not exist (yet).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: secret {namespace}/{name} has no key `{key}`")]
pub struct MissingSecret {
    /// Field of the cluster spec that references it.
    pub field: String,
    /// Namespace of the Secret.
    pub namespace: String,
    /// Name of the Secret.
    pub name: String,
    /// Missing key.
    pub key: String,
}

/// Fetches each referenced Secret once and reads the keys; `Ok(Err(_))` names what is missing.
pub async fn fetch(
    client: &Client,
    cluster: &ChemChatCluster,
) -> Result<Result<BackendSecrets, MissingSecret>> {
    let namespace = cluster.namespace().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let spec = &cluster.spec;
    let mut refs: Vec<(&str, &str, &str)> = vec![
        (
            "spec.postgres.urlSecretRef",
            &spec.postgres.url_secret_ref.name,
            &spec.postgres.url_secret_ref.key,
        ),
        (
            "spec.redis.urlSecretRef",
            &spec.redis.url_secret_ref.name,
            &spec.redis.url_secret_ref.key,
        ),
        (
            "spec.auth.jwtSecretRef",
            &spec.auth.jwt_secret_ref.name,
            &spec.auth.jwt_secret_ref.key,
        ),
    ];
    if let Some(mail) = &spec.mail {
        refs.push((
            "spec.mail.smtpUrlSecretRef",
            &mail.smtp_url_secret_ref.name,
            &mail.smtp_url_secret_ref.key,
        ));
    }
    if let Some(s3) = &spec.object_storage {
        let name = s3.credentials_secret_ref.name.as_str();
        refs.push((
            "spec.objectStorage.credentialsSecretRef",
            name,
            "accessKeyId",
        ));
        refs.push((
            "spec.objectStorage.credentialsSecretRef",
            name,
            "secretAccessKey",
        ));
    }
    if let Some(r) = spec
        .search
        .as_ref()
        .and_then(|s| s.credentials_secret_ref.as_ref())
    {
        refs.push((
            "spec.search.credentialsSecretRef",
            r.name.as_str(),
            "username",
        ));
        refs.push((
            "spec.search.credentialsSecretRef",
            r.name.as_str(),
            "password",
        ));
    }
    let mut secrets: BTreeMap<&str, Option<Secret>> = BTreeMap::new();
    let mut values = Vec::new();
    for (field, name, key) in refs {
        if !secrets.contains_key(name) {
            secrets.insert(name, api.get_opt(name).await?);
        }
        let value = secrets
            .get(name)
            .and_then(|s| s.as_ref())
            .and_then(|s| s.data.as_ref())
            .and_then(|d| d.get(key))
            .map(|b| String::from_utf8_lossy(&b.0).into_owned());
        match value {
            Some(v) => values.push(v),
            None => {
                return Ok(Err(MissingSecret {
                    field: field.to_owned(),
                    namespace: namespace.clone(),
                    name: name.to_owned(),
                    key: key.to_owned(),
                }));
            }
        }
    }
    let mut it = values.into_iter();
    let mut next = || it.next().unwrap_or_default();
    let (database_url, redis_url, jwt_secret) = (next(), next(), next());
    let smtp_url = spec.mail.as_ref().map(|_| next());
    let s3_credentials = spec.object_storage.as_ref().map(|_| (next(), next()));
    let search_credentials = spec
        .search
        .as_ref()
        .and_then(|s| s.credentials_secret_ref.as_ref())
        .map(|_| (next(), next()));
    Ok(Ok(BackendSecrets {
        database_url,
        redis_url,
        jwt_secret,
        smtp_url,
        s3_credentials,
        search_credentials,
        placeholders: false,
    }))
}

/// The search backend's basic-auth credentials alone, for cleanup: a tenant being deleted must
/// not wait for the cluster's other Secrets. `None` when the cluster names no Secret, or when
/// the Secret or a key is gone (the request then goes without credentials and the backend's
/// answer says what is wrong).
pub async fn search_credentials(
    client: &Client,
    cluster: &ChemChatCluster,
) -> Result<Option<BasicAuth>> {
    let Some(secret_ref) = cluster
        .spec
        .search
        .as_ref()
        .and_then(|s| s.credentials_secret_ref.as_ref())
    else {
        return Ok(None);
    };
    let namespace = cluster.namespace().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let Some(secret) = api.get_opt(&secret_ref.name).await? else {
        return Ok(None);
    };
    let key = |k: &str| {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(k))
            .map(|b| String::from_utf8_lossy(&b.0).into_owned())
    };
    Ok(key("username")
        .zip(key("password"))
        .map(|(user, password)| BasicAuth::new(user, password)))
}

/// The cluster's S3 key alone, for cleanup (deleting a tenant's S3 user), like
/// [`search_credentials`]. `None` when the cluster has no object storage, or when its Secret or
/// a key is gone.
pub async fn s3_credentials(
    client: &Client,
    cluster: &ChemChatCluster,
) -> Result<Option<AccessKey>> {
    let Some(storage) = &cluster.spec.object_storage else {
        return Ok(None);
    };
    let namespace = cluster.namespace().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let Some(secret) = api.get_opt(&storage.credentials_secret_ref.name).await? else {
        return Ok(None);
    };
    Ok(crate::build::key_of(&secret))
}
