//! Isolation by default, on what `build` makes of a tenant on a cluster with every backend:
//! Pod Security `restricted` and a pod spec that meets it, egress to DNS, the backends and the
//! push services only (never the metadata address), and capped ephemeral storage.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use crate::support::world::object_of;
use chemchat_crds::{ChemChatCluster, ChemChatTenant};
use chemchat_operator::build::{BackendSecrets, BuildOptions, Child, ChildKind, build};
use chemchat_operator::plan::plan;
use chemchat_operator::render::render_children;
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    std::fs::read_to_string(dir.join(name)).unwrap()
}

fn children() -> Vec<Child> {
    let tenant = fixture("tenant-pro.yaml");
    let cluster = fixture("cluster-full.yaml");
    render_children(&tenant, Some(&cluster), &BuildOptions::default()).unwrap()
}

/// The egress rules `build` makes for the Pro tenant on the full cluster (mail included) with
/// real backend URLs, which `render` would show as placeholders.
fn egress_with(smtp_url: &str) -> Vec<Value> {
    let tenant: ChemChatTenant = serde_yaml::from_str(&fixture("tenant-pro.yaml")).unwrap();
    let cluster: ChemChatCluster = serde_yaml::from_str(&fixture("cluster-full.yaml")).unwrap();
    let secrets = BackendSecrets {
        database_url: "postgres://chemchat:pw@pg.data.svc/chemchat".into(),
        redis_url: "redis://redis.data.svc".into(),
        jwt_secret: "a master secret of at least 32 bytes".into(),
        smtp_url: Some(smtp_url.into()),
        ..BackendSecrets::default()
    };
    let children = build(
        &plan(&tenant, &cluster).unwrap(),
        &secrets,
        &BuildOptions::default(),
    )
    .unwrap();
    egress(&children)
}

fn egress(children: &[Child]) -> Vec<Value> {
    let policy = object_of(children, ChildKind::NetworkPolicy);
    policy["spec"]["egress"].as_array().unwrap().clone()
}

/// Whether an IPv4 `cidr` holds `ip` (an IPv6 block never does).
fn holds(cidr: &Value, ip: Ipv4Addr) -> bool {
    let (net, len) = cidr.as_str().unwrap().split_once('/').unwrap();
    let Ok(net) = net.parse::<Ipv4Addr>() else {
        return false;
    };
    let mask = u32::MAX
        .checked_shl(32 - len.parse::<u32>().unwrap())
        .unwrap_or(0);
    u32::from(ip) & mask == u32::from(net) & mask
}

/// Whether some rule's `ipBlock` lets a pod reach `ip` on TCP `port`, as the API server reads
/// the rules: a peer matches when its `cidr` holds the address and no `except` does.
fn reaches(rules: &[Value], ip: Ipv4Addr, port: i64) -> bool {
    rules.iter().any(|rule| {
        let on_port = rule["ports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["port"] == port && p["protocol"] == "TCP");
        on_port
            && rule["to"].as_array().unwrap().iter().any(|peer| {
                let block = &peer["ipBlock"];
                !block.is_null()
                    && holds(&block["cidr"], ip)
                    && !block["except"]
                        .as_array()
                        .is_some_and(|except| except.iter().any(|e| holds(e, ip)))
            })
    })
}

/// Every port some rule opens.
fn ports(rules: &[Value]) -> Vec<i64> {
    let mut ports: Vec<i64> = rules
        .iter()
        .flat_map(|rule| rule["ports"].as_array().unwrap())
        .map(|p| p["port"].as_i64().unwrap())
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

const METADATA: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);

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
fn egress_reaches_dns_the_backends_and_the_push_services_only() {
    let policy = object_of(&children(), ChildKind::NetworkPolicy);
    assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    let rules = policy["spec"]["egress"].as_array().unwrap();
    assert_eq!(
        rules[0]["to"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        "kube-system"
    );
    for rule in rules {
        // Every rule names its peers and its ports: nothing open to any port or anywhere.
        assert!(
            rule["to"].as_array().is_some_and(|to| !to.is_empty()),
            "{rule}"
        );
        assert!(
            rule["ports"].as_array().is_some_and(|p| !p.is_empty()),
            "{rule}"
        );
    }
    // DNS, Kafka, the search backend, S3 and the push services (the database, Redis and SMTP
    // URLs are secrets, shown as placeholders by `render`).
    assert_eq!(ports(rules), [53, 443, 9092, 9200]);
    for port in ports(rules) {
        assert!(!reaches(rules, METADATA, port), "metadata on {port}");
    }
}

#[test]
fn mail_reaches_the_smtp_server_on_the_port_the_mailer_uses() {
    // STARTTLS submission to a Service in the namespace `mail`: 587, as lettre picks it.
    let rules = egress_with("smtp://chemchat:pw@smtp.mail.svc?tls=required");
    let to_mail = rules
        .iter()
        .find(|r| {
            r["to"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] == "mail"
        })
        .unwrap();
    assert_eq!(to_mail["ports"], json!([{"port": 587, "protocol": "TCP"}]));
    // The database and Redis Services, now that their URLs are real.
    assert_eq!(ports(&rules), [53, 443, 587, 5432, 6379, 9092, 9200]);

    // An outside server over implicit TLS: 465 on outside addresses, never the metadata one.
    let rules = egress_with("smtps://chemchat:pw@smtp.example.com");
    assert!(reaches(&rules, Ipv4Addr::new(203, 0, 113, 25), 465));
    assert!(!reaches(&rules, Ipv4Addr::new(203, 0, 113, 25), 587));
    for port in ports(&rules) {
        assert!(!reaches(&rules, METADATA, port), "metadata on {port}");
    }
}

#[test]
fn push_services_are_reached_over_https_on_public_addresses_only() {
    // A cluster with no outside backend: what is reachable outside is the push services' rule.
    let rules = egress(
        &render_children(
            &fixture("tenant-free.yaml"),
            Some(&fixture("cluster-minimal.yaml")),
            &BuildOptions::default(),
        )
        .unwrap(),
    );
    let push = rules.last().unwrap();
    assert_eq!(push["ports"], json!([{"port": 443, "protocol": "TCP"}]));
    assert_eq!(
        push["to"],
        json!([{"ipBlock": {"cidr": "0.0.0.0/0", "except": [
            "169.254.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"
        ]}}])
    );
    let public = Ipv4Addr::new(142, 250, 185, 10);
    assert!(reaches(&rules, public, 443));
    assert!(!reaches(&rules, public, 80), "HTTPS only");
    for private in [
        METADATA,
        Ipv4Addr::new(10, 96, 0, 1),
        Ipv4Addr::new(172, 20, 1, 1),
        Ipv4Addr::new(192, 168, 1, 1),
        Ipv4Addr::new(100, 64, 0, 1),
    ] {
        assert!(!reaches(&rules, private, 443), "{private}");
    }
}
