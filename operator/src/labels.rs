//! Names and labels every child carries, so one selector finds a tenant's objects.

use std::collections::BTreeMap;

use chemchat_crds::TENANT_LABEL;

/// Field manager of every server-side apply the operator makes.
pub const FIELD_MANAGER: &str = "chemchat-operator";
/// Field manager that keeps a Deployment's `spec.replicas` while an autoscaler takes it over.
pub const HANDOVER_FIELD_MANAGER: &str = "chemchat-operator-handover";
/// `app.kubernetes.io/managed-by` value.
pub const MANAGED_BY: &str = "chemchat-operator";
/// Name of the server workload objects inside a tenant namespace.
pub const SERVER_NAME: &str = "chemchat-server";
/// Annotation holding a hash of the applied object, so removed fields are noticed too.
pub const HASH_ANNOTATION: &str = "chemchat.io/applied-hash";
/// Pod annotation with a hash of the configuration, so a config change rolls the pods.
pub const CONFIG_HASH_ANNOTATION: &str = "chemchat.io/config-hash";
/// Namespace label that marks a tenant namespace for NetworkPolicy selection.
pub const ROLE_LABEL: &str = "chemchat.io/role";

/// Namespace holding a tenant's workload.
pub fn tenant_namespace(tenant: &str) -> String {
    format!("chemchat-{tenant}")
}

/// Labels that select the server pods of a tenant (stable: Deployment selectors are immutable).
pub fn selector_labels(tenant: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), SERVER_NAME.to_owned()),
        ("app.kubernetes.io/instance".to_owned(), tenant.to_owned()),
    ])
}

/// The recommended labels plus the tenant label, for a child of the given component.
pub fn labels(tenant: &str, component: &str) -> BTreeMap<String, String> {
    let mut labels = selector_labels(tenant);
    labels.extend([
        (
            "app.kubernetes.io/component".to_owned(),
            component.to_owned(),
        ),
        (
            "app.kubernetes.io/managed-by".to_owned(),
            MANAGED_BY.to_owned(),
        ),
        (
            "app.kubernetes.io/part-of".to_owned(),
            "chemchat".to_owned(),
        ),
        (TENANT_LABEL.to_owned(), tenant.to_owned()),
    ]);
    labels
}

/// Label selector matching every child of a tenant.
pub fn children_selector(tenant: &str) -> String {
    format!("app.kubernetes.io/managed-by={MANAGED_BY},{TENANT_LABEL}={tenant}")
}
