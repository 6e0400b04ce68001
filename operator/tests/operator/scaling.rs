//! The chain that makes autoscaling fire, checked without a cluster: the server pods are
//! scraped on their admin port (their `prometheus.io/*` annotations, the chart's PodMonitor),
//! the scraped series passes the
//! prometheus-adapter rule the chart ships (its series query, label overrides and name
//! regex), and the name the rule serves is the one the HPA asks for.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chemchat_crds::contract::{ADMIN_PORT, METRIC_WEBSOCKET_CONNECTIONS, PATH_METRICS};
use chemchat_operator::build::{BuildOptions, ChildKind};
use chemchat_operator::render::render_children;
use regex::Regex;
use serde_json::Value;

fn chart_file(path: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../charts/chemchat-operator");
    std::fs::read_to_string(root.join(path)).unwrap()
}

/// The adapter rules the chart ships (the list merged into `rules.custom`, and the body of
/// the rules ConfigMap).
fn rules() -> Vec<Value> {
    serde_yaml::from_str(&chart_file("files/adapter-rules.yaml")).unwrap()
}

/// A series as Prometheus stores it after scraping a server pod, through the PodMonitor or
/// the annotation scrape job: both attach the pod's namespace and name.
fn scraped_series() -> (String, BTreeMap<String, String>) {
    let labels = BTreeMap::from([
        ("namespace".to_owned(), "chemchat-acme".to_owned()),
        ("pod".to_owned(), "chemchat-server-7d9f-x2x4q".to_owned()),
        ("instance".to_owned(), format!("10.0.0.7:{ADMIN_PORT}")),
    ]);
    (METRIC_WEBSOCKET_CONNECTIONS.to_owned(), labels)
}

/// Whether a PromQL selector `name{l!="",l="v",l=~"re"}` selects the series.
fn selects(selector: &str, name: &str, labels: &BTreeMap<String, String>) -> bool {
    let re = Regex::new(r#"^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}$"#).unwrap();
    let parts = re.captures(selector).unwrap();
    let matcher = Regex::new(r#"^\s*([a-zA-Z_]+)\s*(=~|!~|!=|=)\s*"(.*)"\s*$"#).unwrap();
    parts[1] == *name
        && parts[2]
            .split(',')
            .filter(|m| !m.trim().is_empty())
            .all(|m| {
                let m = matcher.captures(m).unwrap();
                let value = labels.get(&m[1]).map_or("", String::as_str);
                let anchored = Regex::new(&format!("^(?:{})$", &m[3])).unwrap();
                match &m[2] {
                    "=" => value == &m[3],
                    "!=" => value != &m[3],
                    "=~" => anchored.is_match(value),
                    _ => !anchored.is_match(value),
                }
            })
}

#[test]
fn the_adapter_rule_serves_the_scraped_gauge_under_the_name_the_hpa_asks_for() {
    let (name, labels) = scraped_series();
    let served: Vec<String> = rules()
        .iter()
        .filter(|rule| selects(rule["seriesQuery"].as_str().unwrap(), &name, &labels))
        .filter_map(|rule| {
            // Every override names a label the series has, as the resource the HPA queries by.
            let overrides = rule["resources"]["overrides"].as_object().unwrap();
            assert!(
                overrides
                    .iter()
                    .all(|(label, _)| labels.contains_key(label))
            );
            assert_eq!(overrides["namespace"]["resource"], "namespace");
            assert_eq!(overrides["pod"]["resource"], "pod");
            let query = rule["metricsQuery"].as_str().unwrap();
            assert!(query.contains("<<.Series>>") && query.contains("<<.LabelMatchers>>"));
            let matches = Regex::new(rule["name"]["matches"].as_str().unwrap()).unwrap();
            let as_ = rule["name"]["as"].as_str().unwrap();
            matches
                .is_match(&name)
                .then(|| matches.replace(&name, as_).into_owned())
        })
        .collect();
    assert_eq!(served, [METRIC_WEBSOCKET_CONNECTIONS]);

    // The HPA of an autoscaled tenant asks for exactly that pods metric, and its pods carry
    // the annotations that get them scraped on the port and path the server serves.
    let tenant = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tenant-pro.yaml"),
    )
    .unwrap();
    let children = render_children(&tenant, None, &BuildOptions::default()).unwrap();
    let object = |kind| &children.iter().find(|c| c.kind == kind).unwrap().object;
    let metric = &object(ChildKind::HorizontalPodAutoscaler)["spec"]["metrics"][0]["pods"];
    assert_eq!(metric["metric"]["name"], served[0].as_str());
    let pod = &object(ChildKind::Deployment)["spec"]["template"];
    let annotations = &pod["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"], "true");
    assert_eq!(annotations["prometheus.io/path"], PATH_METRICS);
    assert_eq!(annotations["prometheus.io/port"], ADMIN_PORT.to_string());
    // The PodMonitor names the container port the annotations give by number: the admin one.
    let ports = pod["spec"]["containers"][0]["ports"].as_array().unwrap();
    let scraped = ports
        .iter()
        .find(|p| p["containerPort"] == ADMIN_PORT)
        .unwrap();
    assert_eq!(scraped["name"], pod_monitor_port());
}

/// The port name of the chart's PodMonitor endpoint for the tenant servers.
fn pod_monitor_port() -> String {
    let template = chart_file("templates/monitoring.yaml");
    let (_, pod_monitor) = template.split_once("kind: PodMonitor").unwrap();
    let port = Regex::new(r"podMetricsEndpoints:\s*- port: (\S+)").unwrap();
    port.captures(pod_monitor).unwrap()[1].to_owned()
}

#[test]
fn the_rule_would_not_serve_an_unscraped_or_renamed_series() {
    let (name, mut labels) = scraped_series();
    let query = rules()[0]["seriesQuery"].as_str().unwrap().to_owned();
    assert!(selects(&query, &name, &labels));
    assert!(!selects(&query, "chemchat_ws_connections", &labels));
    labels.remove("pod");
    assert!(
        !selects(&query, &name, &labels),
        "a series without a pod cannot be a pods metric"
    );
}
