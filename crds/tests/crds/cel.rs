//! The CEL rules in the generated schema do what they say, evaluated client-side with
//! kube-cel (the API server evaluates the same `x-kubernetes-validations`).

use chemchat_crds::{ChemChatCluster, ChemChatTenant};
use kube::core::cel::{validate_cel, validate_cel_update};
use serde_json::{Value, json};

fn tenant(spec_extra: Value) -> ChemChatTenant {
    let mut spec = json!({"clusterRef": {"name": "main", "namespace": "chemchat-system"}, "displayName": "Acme"});
    spec.as_object_mut()
        .unwrap()
        .extend(spec_extra.as_object().unwrap().clone());
    serde_json::from_value(json!({
        "apiVersion": "chemchat.io/v1alpha1", "kind": "ChemChatTenant",
        "metadata": {"name": "acme"}, "spec": spec
    }))
    .unwrap()
}

#[test]
fn min_replicas_must_not_exceed_max_replicas() {
    assert!(
        validate_cel(&tenant(
            json!({"scaling": {"minReplicas": 2, "maxReplicas": 3}})
        ))
        .is_ok()
    );
    assert!(validate_cel(&tenant(json!({"scaling": {"minReplicas": 2}}))).is_ok());
    let err = validate_cel(&tenant(
        json!({"scaling": {"minReplicas": 5, "maxReplicas": 3}}),
    ))
    .unwrap_err();
    assert!(
        format!("{err:?}").contains("minReplicas must be <="),
        "{err:?}"
    );
}

#[test]
fn cluster_ref_is_immutable() {
    let old = tenant(json!({}));
    assert!(validate_cel_update(&tenant(json!({"displayName": "Renamed"})), &old).is_ok());
    let moved = tenant(json!({"clusterRef": {"name": "other", "namespace": "chemchat-system"}}));
    let err = validate_cel_update(&moved, &old).unwrap_err();
    assert!(
        format!("{err:?}").contains("clusterRef is immutable"),
        "{err:?}"
    );
}

#[test]
fn tls_needs_a_host() {
    assert!(
        validate_cel(&tenant(
            json!({"ingress": {"host": "a.example.com", "tlsSecretName": "t"}})
        ))
        .is_ok()
    );
    assert!(validate_cel(&tenant(json!({"ingress": {"tlsSecretName": "t"}}))).is_err());
}

#[test]
fn cluster_server_defaults_keep_min_below_max() {
    let cluster = |defaults: Value| -> ChemChatCluster {
        serde_json::from_value(json!({
            "apiVersion": "chemchat.io/v1alpha1", "kind": "ChemChatCluster",
            "metadata": {"name": "main", "namespace": "chemchat-system"},
            "spec": {
                "image": {"repository": "chemchat/chemchat-server"},
                "postgres": {"urlSecretRef": {"name": "b", "key": "p"}},
                "redis": {"urlSecretRef": {"name": "b", "key": "r"}},
                "auth": {"jwtSecretRef": {"name": "b", "key": "j"}},
                "serverDefaults": defaults
            }
        }))
        .unwrap()
    };
    assert!(validate_cel(&cluster(json!({"minReplicas": 1, "maxReplicas": 4}))).is_ok());
    assert!(validate_cel(&cluster(json!({"minReplicas": 5, "maxReplicas": 4}))).is_err());
}
