//! `build`: every object the operator wants for a tenant, from the plan alone.
//!
//! **Invariant**: no client, no clock, no randomness. The same plan always yields the same
//! objects byte for byte, which is what makes snapshots, `render` and no-op detection work.

mod config;
mod database_role;
mod egress;
mod jobs;
mod kinds;
mod namespace;
mod purge;
mod rbac;
mod redis_user;
mod s3_user;
mod scaling;
mod workload;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use config::SECRET_NAME;
pub use database_role::{
    DATABASE_ROLE_PREFIX, INPUTS_ANNOTATION, PASSWORD_KEY, RETIRE_ROLE_PREFIX, RETIRED_ANNOTATION,
    ROLE_SLOT_ANNOTATION, UnusableDatabaseUrl, database_role_name, retire_role_job,
    retire_role_job_inputs, retire_role_job_name, role_job, role_job_inputs, role_password_secret,
    role_slot_of, tenant_database_role, tenant_database_url, url_user,
};
pub use kinds::ChildKind;
pub use purge::{PURGE_JOB_PREFIX, purge_job, purge_job_name};
pub use redis_user::{
    REDIS_USER_PREFIX, RETIRE_REDIS_PREFIX, UnusableRedisUrl, redis_password_secret,
    redis_user_job, redis_user_job_inputs, redis_user_name, retire_redis_job,
    retire_redis_job_inputs, retire_redis_job_name, tenant_redis_url,
};
pub use s3_user::{
    ACCESS_KEY_ID_KEY, S3_POLICY_ANNOTATION, S3_RETIRED_ANNOTATION, S3_USER_ANNOTATION,
    S3_USER_PREFIX, SECRET_ACCESS_KEY_KEY, key_of, s3_key_secret, s3_policy_hash, s3_user_name,
    s3_user_secret_name,
};

use crate::labels::{self, HASH_ANNOTATION};
use crate::plan::TenantPlan;

/// How the tenant's server scales on connections (the chart picks one, never both).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Autoscaler {
    /// An autoscaling/v2 HPA on the pods metric served by prometheus-adapter.
    Hpa,
    /// A KEDA ScaledObject with a Prometheus trigger at this server address.
    Keda {
        /// Prometheus URL KEDA queries.
        prometheus_address: String,
    },
}

/// Install-wide settings of the operator that shape what it builds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildOptions {
    /// HPA or KEDA.
    pub autoscaler: Autoscaler,
    /// `ingressClassName` of tenant Ingresses; `None` uses the cluster default class.
    pub ingress_class: Option<String>,
    /// Namespace of the ingress controller, allowed through each tenant's NetworkPolicy.
    pub ingress_namespace: String,
    /// Namespace of Prometheus, allowed to scrape the servers' `/metrics` (the autoscaler's
    /// source).
    pub metrics_namespace: String,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            autoscaler: Autoscaler::Hpa,
            ingress_class: None,
            ingress_namespace: "ingress-nginx".to_owned(),
            metrics_namespace: "monitoring".to_owned(),
        }
    }
}

/// Backend credentials copied from the cluster's Secrets (a Secret cannot be referenced
/// across namespaces, so each tenant namespace gets its own copy).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct BackendSecrets {
    /// PostgreSQL URL: the cluster's (master) as read; the tenant's own role once the
    /// reconciler has provisioned it, before `build` writes it into the tenant's Secret.
    pub database_url: String,
    /// Redis URL: the cluster's as read; the tenant's own ACL user once the reconciler has
    /// provisioned it, before `build` writes it into the tenant's Secret.
    pub redis_url: String,
    /// The platform's master JWT secret; tenants get only the key derived from it.
    pub jwt_secret: String,
    /// The SMTP server's URL, when the cluster sends mail.
    pub smtp_url: Option<String>,
    /// S3 access key id and secret, when object storage is configured.
    pub s3_credentials: Option<(String, String)>,
    /// Search username and password, when the search backend needs them.
    pub search_credentials: Option<(String, String)>,
    /// The values are placeholders naming where they would come from (`render`): nothing is
    /// derived from them.
    pub placeholders: bool,
}

impl std::fmt::Debug for BackendSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Credentials never reach logs.
        f.write_str("BackendSecrets(<redacted>)")
    }
}

/// One desired object: its kind, place and full JSON body.
#[derive(Clone, Debug, PartialEq)]
pub struct Child {
    /// Kind of the object.
    pub kind: ChildKind,
    /// Namespace, `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// The object as it is applied (with the hash annotation).
    pub object: Value,
}

/// Every object for the tenant, namespace first so the rest has somewhere to go.
pub fn build(
    plan: &TenantPlan,
    secrets: &BackendSecrets,
    options: &BuildOptions,
) -> Result<Vec<Child>, serde_json::Error> {
    let (secret, config_map, config_hash) = config::env_objects(plan, secrets)?;
    let mut children = vec![
        finish(ChildKind::Namespace, &namespace::namespace(plan))?,
        finish(ChildKind::ResourceQuota, &namespace::resource_quota(plan))?,
        finish(ChildKind::LimitRange, &namespace::limit_range(plan))?,
        finish(
            ChildKind::NetworkPolicy,
            &namespace::network_policy(plan, options, secrets),
        )?,
        finish(ChildKind::ServiceAccount, &rbac::service_account(plan))?,
        finish(ChildKind::Role, &rbac::role(plan))?,
        finish(ChildKind::RoleBinding, &rbac::role_binding(plan))?,
        finish(ChildKind::Secret, &secret)?,
        finish(ChildKind::ConfigMap, &config_map)?,
        finish(
            ChildKind::Deployment,
            &workload::deployment(plan, &config_hash),
        )?,
        finish(ChildKind::Service, &workload::service(plan))?,
        finish(
            ChildKind::PodDisruptionBudget,
            &workload::pod_disruption_budget(plan),
        )?,
    ];
    if let Some(ingress) = workload::ingress(plan, options) {
        children.push(finish(ChildKind::Ingress, &ingress)?);
    }
    if plan.autoscaled() {
        match &options.autoscaler {
            Autoscaler::Hpa => children.push(finish(
                ChildKind::HorizontalPodAutoscaler,
                &scaling::hpa(plan),
            )?),
            Autoscaler::Keda { prometheus_address } => children.push(finish(
                ChildKind::ScaledObject,
                &scaling::scaled_object(plan, prometheus_address),
            )?),
        }
    }
    Ok(children)
}

/// Metadata shared by every child: name, namespace, labels, controller owner reference. A
/// tenant without a uid (one `render` read from a file) gets no owner reference: the API server
/// rejects an empty uid, and the operator adopts the objects on its first apply.
fn meta(plan: &TenantPlan, name: &str, component: &str, namespaced: bool) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespaced.then(|| plan.namespace.clone()),
        labels: Some(labels::labels(&plan.name, component)),
        owner_references: (!plan.uid.is_empty())
            .then(|| vec![owner_reference(&plan.name, &plan.uid)]),
        ..ObjectMeta::default()
    }
}

/// Controller reference to the cluster-scoped tenant: deleting the tenant cascades.
fn owner_reference(tenant: &str, uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: format!("{}/{}", chemchat_crds::GROUP, chemchat_crds::VERSION),
        kind: "ChemChatTenant".to_owned(),
        name: tenant.to_owned(),
        uid: uid.to_owned(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Short stable hash of a JSON value (BTreeMaps and struct field order make it canonical).
pub(crate) fn hash(value: &Value) -> String {
    let digest = Sha256::digest(value.to_string().as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Serialises an object and stamps the hash of its content as an annotation.
fn finish<T: Serialize>(kind: ChildKind, object: &T) -> Result<Child, serde_json::Error> {
    let mut value = serde_json::to_value(object)?;
    let digest = hash(&value);
    let metadata = &mut value["metadata"];
    let name = metadata["name"].as_str().unwrap_or_default().to_owned();
    let namespace = metadata["namespace"].as_str().map(str::to_owned);
    let annotations = metadata.as_object_mut().map(|m| {
        m.entry("annotations")
            .or_insert_with(|| Value::Object(Default::default()))
    });
    if let Some(Value::Object(map)) = annotations {
        map.insert(HASH_ANNOTATION.to_owned(), Value::String(digest));
    }
    Ok(Child {
        kind,
        namespace,
        name,
        object: value,
    })
}
