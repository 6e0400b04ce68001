//! What the outside can reach of a tenant's server: the Ingress and its Service route only the
//! http port; probes and scraping use the admin listener (`CHEMCHAT_ADMIN_LISTEN`), which the
//! NetworkPolicy opens to Prometheus alone; the cluster's trusted proxies reach every server.

use std::path::PathBuf;

use crate::support::world::object_of;
use chemchat_crds::contract::{ADMIN_LISTEN, ADMIN_PORT, DEFAULT_PORT, TRUSTED_PROXIES};
use chemchat_operator::build::{BuildOptions, Child, ChildKind};
use chemchat_operator::render::render_children;
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    std::fs::read_to_string(dir.join(name)).unwrap()
}

/// The Enterprise tenant (it has an Ingress) on `cluster`.
fn children_on(cluster: &str) -> Vec<Child> {
    render_children(
        &fixture("tenant-enterprise.yaml"),
        Some(cluster),
        &BuildOptions::default(),
    )
    .unwrap()
}

#[test]
fn probes_and_scraping_use_the_admin_port() {
    let children = children_on(&fixture("cluster-full.yaml"));
    let config = &object_of(&children, ChildKind::ConfigMap)["data"];
    assert_eq!(config[ADMIN_LISTEN], format!("0.0.0.0:{ADMIN_PORT}"));
    let pod = &object_of(&children, ChildKind::Deployment)["spec"]["template"];
    let container = &pod["spec"]["containers"][0];
    assert_eq!(
        container["ports"],
        json!([
            {"name": "http", "containerPort": DEFAULT_PORT, "protocol": "TCP"},
            {"name": "admin", "containerPort": ADMIN_PORT, "protocol": "TCP"},
        ])
    );
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(container[probe]["httpGet"]["port"], "admin", "{probe}");
    }
    assert_eq!(
        pod["metadata"]["annotations"]["prometheus.io/port"],
        ADMIN_PORT.to_string()
    );
}

#[test]
fn the_service_and_the_ingress_route_the_http_port_only() {
    let children = children_on(&fixture("cluster-full.yaml"));
    let service = object_of(&children, ChildKind::Service);
    assert_eq!(
        service["spec"]["ports"],
        json!([{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}])
    );
    let ingress = object_of(&children, ChildKind::Ingress);
    let backend = &ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"];
    assert_eq!(backend["port"], json!({"name": "http"}));
}

#[test]
fn the_network_policy_opens_the_admin_port_to_prometheus_only() {
    let policy = object_of(
        &children_on(&fixture("cluster-full.yaml")),
        ChildKind::NetworkPolicy,
    );
    let namespace = |rule: &Value| {
        rule["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"].clone()
    };
    let ports_of = |who: &str| -> Vec<Value> {
        policy["spec"]["ingress"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|rule| namespace(rule) == who)
            .flat_map(|rule| rule["ports"].as_array().unwrap().clone())
            .map(|port| port["port"].clone())
            .collect()
    };
    assert_eq!(ports_of("monitoring"), [json!(ADMIN_PORT)]);
    assert_eq!(ports_of("ingress-nginx"), [json!(DEFAULT_PORT)]);
    assert_eq!(ports_of("chemchat-system"), [json!(DEFAULT_PORT)]);
}

#[test]
fn the_clusters_trusted_proxies_reach_the_server_and_nothing_is_trusted_by_default() {
    let config =
        |cluster: &str| object_of(&children_on(cluster), ChildKind::ConfigMap)["data"].clone();
    assert_eq!(
        config(&fixture("cluster-full.yaml"))[TRUSTED_PROXIES],
        "10.244.0.0/16,fd00:10:244::/56"
    );
    assert!(
        config(&fixture("cluster-minimal.yaml"))
            .get(TRUSTED_PROXIES)
            .is_none()
    );
}

#[test]
fn an_invalid_trusted_proxy_is_refused_naming_the_clusters_field() {
    let cluster = fixture("cluster-full.yaml").replace("10.244.0.0/16", "10.244.0.0/33");
    let err = render_children(
        &fixture("tenant-enterprise.yaml"),
        Some(&cluster),
        &BuildOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("ChemChatCluster chemchat-system/main spec.ingress.trustedProxies[0]")
            && err.contains("10.244.0.0/33"),
        "{err}"
    );
}
