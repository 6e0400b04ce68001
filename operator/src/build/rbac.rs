//! The server's identity: a ServiceAccount bound to a Role that grants nothing.
//!
//! The server needs no Kubernetes API access; the empty Role makes that explicit and gives
//! platform teams one obvious place to widen it, while the pod does not mount a token at all.

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding, RoleRef, Subject};

use super::meta;
use crate::labels::SERVER_NAME;
use crate::plan::TenantPlan;

/// The server pods' ServiceAccount, without an automatically mounted token.
pub fn service_account(plan: &TenantPlan) -> ServiceAccount {
    ServiceAccount {
        metadata: meta(plan, SERVER_NAME, "rbac", true),
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    }
}

/// A Role with no rules: least privilege.
pub fn role(plan: &TenantPlan) -> Role {
    Role {
        metadata: meta(plan, SERVER_NAME, "rbac", true),
        rules: Some(Vec::new()),
    }
}

/// Binds the ServiceAccount to the empty Role.
pub fn role_binding(plan: &TenantPlan) -> RoleBinding {
    RoleBinding {
        metadata: meta(plan, SERVER_NAME, "rbac", true),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "Role".to_owned(),
            name: SERVER_NAME.to_owned(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_owned(),
            name: SERVER_NAME.to_owned(),
            namespace: Some(plan.namespace.clone()),
            ..Subject::default()
        }]),
    }
}
