//! Isolation by default, on what `build` makes of a tenant on a cluster with every backend:
//! Pod Security `restricted` and a pod spec that meets it, egress to DNS and the backends only
//! (never the metadata address), and capped ephemeral storage.

use std::path::PathBuf;

use crate::support::world::object_of;
use chemchat_operator::build::{BuildOptions, Child, ChildKind};
use chemchat_operator::render::render_children;
use serde_json::json;

fn children() -> Vec<Child> {
    let fixture = |name: &str| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        std::fs::read_to_string(dir.join(name)).unwrap()
    };
    let tenant = fixture("tenant-pro.yaml");
    let cluster = fixture("cluster-full.yaml");
    render_children(&tenant, Some(&cluster), &BuildOptions::default()).unwrap()
}

#[test]
fn the_namespace_enforces_the_restricted_standard_and_the_pods_meet_it() {
    let children = children();
    let labels = &object_of(&children, ChildKind::Namespace)["metadata"]["labels"];
    assert_eq!(labels["pod-security.kubernetes.io/enforce"], "restricted");
    let pod = &object_of(&children, ChildKind::Deployment)["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    for container in pod["containers"].as_array().unwrap() {
        let sc = &container["securityContext"];
        assert_eq!(sc["allowPrivilegeEscalation"], false);
        assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
        assert!(container.get("ports").unwrap()[0].get("hostPort").is_none());
    }
    for volume in pod["volumes"].as_array().unwrap() {
        assert!(volume["emptyDir"]["sizeLimit"].is_string(), "{volume}");
    }
    let hard = &object_of(&children, ChildKind::ResourceQuota)["spec"]["hard"];
    // Six pods at most plus the surge pod, 2Gi each.
    assert_eq!(hard["limits.ephemeral-storage"], "14Gi");
    let defaults = &object_of(&children, ChildKind::LimitRange)["spec"]["limits"][0];
    assert_eq!(defaults["default"]["ephemeral-storage"], "2Gi");
}

#[test]
fn egress_reaches_dns_and_the_backends_only() {
    let policy = object_of(&children(), ChildKind::NetworkPolicy);
    assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    let rules = policy["spec"]["egress"].as_array().unwrap();
    assert_eq!(
        rules[0]["to"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        "kube-system"
    );
    let mut ports: Vec<i64> = Vec::new();
    for rule in rules {
        // Every rule names its peers and its ports: nothing open to any port or anywhere.
        assert!(
            rule["to"].as_array().is_some_and(|to| !to.is_empty()),
            "{rule}"
        );
        ports.extend(
            rule["ports"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["port"].as_i64().unwrap()),
        );
        for peer in rule["to"].as_array().unwrap() {
            if let Some(block) = peer.get("ipBlock")
                && block["cidr"] == "0.0.0.0/0"
            {
                assert_eq!(block["except"], json!(["169.254.169.254/32"]));
            }
        }
    }
    ports.sort_unstable();
    ports.dedup();
    // DNS, Kafka, the search backend and S3 (the database and Redis URLs are secrets, shown
    // as placeholders by `render`).
    assert_eq!(ports, [53, 443, 9092, 9200]);
}
