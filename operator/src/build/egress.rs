//! Where a tenant's pods may connect: DNS, the backends its configuration names and the
//! browsers' push services, nothing else. The cloud metadata address is excluded even where a
//! backend is an external host.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicyEgressRule, NetworkPolicyPeer, NetworkPolicyPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::BackendSecrets;
use crate::plan::TenantPlan;

/// The instance metadata service of every major cloud: credentials of the node live there.
pub const METADATA_ADDRESS: &str = "169.254.169.254/32";
const NS_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Where the push services may not be: link-local (the metadata service), the private ranges
/// and carrier-grade NAT (where cluster nodes, pods and Services usually are). Push services are
/// on the public internet; a subscription's endpoint is a URL a client chose, so the server
/// refuses these itself too (`is_public_address`) and the policy backs that up.
const NOT_PUBLIC: [&str; 5] = [
    "169.254.0.0/16",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
];

/// Where a backend is, as a NetworkPolicy can say it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Place {
    /// A Service `<name>.<namespace>.svc[.cluster.local]`: that namespace's pods.
    Namespace(String),
    /// `<name>.<namespace>`: a Service through the `svc.cluster.local` search domain, or an
    /// outside host like `example.com` — DNS decides, so both are allowed.
    NamespaceOrExternal(String),
    /// An IP address.
    Address(String),
    /// A host resolved outside the cluster: any address but the metadata service.
    External,
}

/// One backend endpoint.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    /// Where it is.
    pub place: Place,
    /// TCP port.
    pub port: i32,
}

/// The port the server's client picks for a URL without one. SMTP as lettre's `from_url` does:
/// `smtps` is TLS from the start on 465, `smtp` with `?tls=required` or `opportunistic` is
/// submission with STARTTLS on 587, plain `smtp` is the relay port 25.
fn default_port(scheme: &str, query: &str) -> i32 {
    match scheme {
        "postgres" | "postgresql" => 5432,
        "redis" | "rediss" => 6379,
        "http" => 80,
        "kafka" => 9092,
        "smtps" => 465,
        "smtp" if starttls(query) => 587,
        "smtp" => 25,
        _ => 443,
    }
}

/// Whether the first `tls` parameter asks for STARTTLS, the one lettre reads.
fn starttls(query: &str) -> bool {
    let tls = query
        .split('&')
        .find_map(|pair| pair.split_once('=').filter(|(key, _)| *key == "tls"));
    matches!(tls, Some((_, "required" | "opportunistic")))
}

/// Parses `scheme://[user[:password]@]host[:port][/…]` (or `host:port` with `scheme` as the
/// default); `None` for what is not an address (a placeholder in `render`).
pub fn endpoint(url: &str, default_scheme: &str) -> Option<Endpoint> {
    let (scheme, rest) = url.split_once("://").unwrap_or((default_scheme, url));
    let query = rest
        .split_once('?')
        .map_or("", |(_, q)| q.split('#').next().unwrap_or(""));
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']')?;
            (host, after.strip_prefix(':'))
        }
        None => match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        },
    };
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':');
    if host.is_empty() || !host.chars().all(valid) {
        return None;
    }
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default_port(scheme, query),
    };
    let place = if host.parse::<std::net::IpAddr>().is_ok() {
        Place::Address(host.to_owned())
    } else {
        let labels: Vec<&str> = host.trim_end_matches(".cluster.local").split('.').collect();
        match labels.as_slice() {
            [_, namespace, "svc"] => Place::Namespace((*namespace).to_owned()),
            [_, namespace] => Place::NamespaceOrExternal((*namespace).to_owned()),
            _ => Place::External,
        }
    };
    Some(Endpoint { place, port })
}

/// Every backend the tenant's server talks to.
pub fn backends(plan: &TenantPlan, secrets: &BackendSecrets) -> Vec<Endpoint> {
    let mut urls: Vec<(String, &str)> = vec![
        (secrets.database_url.clone(), "postgres"),
        (secrets.redis_url.clone(), "redis"),
    ];
    if let Some(kafka) = &plan.kafka {
        urls.extend(
            kafka
                .brokers
                .split(',')
                .map(|b| (b.trim().to_owned(), "kafka")),
        );
    }
    if let Some(search) = &plan.search {
        urls.push((search.url.clone(), "https"));
    }
    if let Some(s3) = &plan.object_storage {
        // No endpoint: the provider's public S3 API.
        let endpoint = s3
            .endpoint
            .clone()
            .unwrap_or_else(|| "https://s3.amazonaws.com".into());
        urls.push((endpoint, "https"));
    }
    // The same condition as `CHEMCHAT_SMTP_URL` in the tenant's Secret.
    if plan.mail.is_some()
        && let Some(smtp_url) = &secrets.smtp_url
    {
        urls.push((smtp_url.clone(), "smtp"));
    }
    let mut found: Vec<Endpoint> = urls
        .iter()
        .filter_map(|(url, scheme)| endpoint(url, scheme))
        .collect();
    found.sort();
    found.dedup();
    found
}

fn tcp(port: i32) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(port)),
        protocol: Some("TCP".to_owned()),
        ..NetworkPolicyPort::default()
    }
}

fn namespace_peer(name: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(
                NS_NAME_LABEL.to_owned(),
                name.to_owned(),
            )])),
            ..LabelSelector::default()
        }),
        ..NetworkPolicyPeer::default()
    }
}

fn block(cidr: String, except: Option<Vec<String>>) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        ip_block: Some(IPBlock { cidr, except }),
        ..NetworkPolicyPeer::default()
    }
}

/// HTTPS to public addresses: Web Push. The push services (FCM, Mozilla's, Apple's…) are those
/// of the browsers people subscribe, so no list of hosts can name them. The server has push on
/// for every tenant (there is no setting to turn it off), so every tenant has this rule. IPv4
/// only, like the other outside peers. Endpoints on another port than 443 stay unreachable.
fn push_services() -> NetworkPolicyEgressRule {
    let except = NOT_PUBLIC.iter().map(|&cidr| cidr.to_owned()).collect();
    NetworkPolicyEgressRule {
        to: Some(vec![block("0.0.0.0/0".to_owned(), Some(except))]),
        ports: Some(vec![tcp(443)]),
    }
}

/// The egress rules: DNS in `kube-system`, one rule per backend endpoint, then the push
/// services.
pub fn rules(plan: &TenantPlan, secrets: &BackendSecrets) -> Vec<NetworkPolicyEgressRule> {
    let dns = NetworkPolicyEgressRule {
        to: Some(vec![namespace_peer("kube-system")]),
        ports: Some(vec![
            NetworkPolicyPort {
                protocol: Some("UDP".to_owned()),
                ..tcp(53)
            },
            tcp(53),
        ]),
    };
    let backends = backends(plan, secrets).into_iter().map(|e| {
        let outside = || {
            block(
                "0.0.0.0/0".to_owned(),
                Some(vec![METADATA_ADDRESS.to_owned()]),
            )
        };
        let peers = match e.place {
            Place::Namespace(ns) => vec![namespace_peer(&ns)],
            Place::NamespaceOrExternal(ns) => vec![namespace_peer(&ns), outside()],
            Place::Address(ip) if ip.contains(':') => vec![block(format!("{ip}/128"), None)],
            Place::Address(ip) => vec![block(format!("{ip}/32"), None)],
            Place::External => vec![outside()],
        };
        NetworkPolicyEgressRule {
            to: Some(peers),
            ports: Some(vec![tcp(e.port)]),
        }
    });
    std::iter::once(dns)
        .chain(backends)
        .chain(std::iter::once(push_services()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(place: Place, port: i32) -> Option<Endpoint> {
        Some(Endpoint { place, port })
    }

    #[test]
    fn endpoints_from_urls_brokers_and_services() {
        let ns = |n: &str| Place::Namespace(n.to_owned());
        assert_eq!(
            endpoint(
                "postgres://chemchat:pw@pg.chemchat-system.svc:5433/chemchat",
                "x"
            ),
            at(ns("chemchat-system"), 5433)
        );
        assert_eq!(
            endpoint("redis://redis.data.svc.cluster.local", "redis"),
            at(ns("data"), 6379)
        );
        assert_eq!(
            endpoint("kafka-0.kafka.svc:9093", "kafka"),
            at(ns("kafka"), 9093)
        );
        assert_eq!(
            endpoint("10.1.2.3:9092", "kafka"),
            at(Place::Address("10.1.2.3".into()), 9092)
        );
        assert_eq!(
            endpoint("https://[fd00::1]/x", "https"),
            at(Place::Address("fd00::1".into()), 443)
        );
        assert_eq!(
            endpoint("https://search.example.com", "https"),
            at(Place::External, 443)
        );
        assert_eq!(
            endpoint("kafka-0.kafka:9092", "kafka"),
            at(Place::NamespaceOrExternal("kafka".into()), 9092)
        );
        assert_eq!(endpoint("<secret backends/postgres-url>", "postgres"), None);
        assert_eq!(endpoint("<secret backends/smtp-url>", "smtp"), None);
        assert_eq!(endpoint("postgres://pg:notaport/db", "postgres"), None);
    }

    #[test]
    fn smtp_ports_are_the_mailers_defaults() {
        let relay = |port| at(Place::Namespace("mail".into()), port);
        let ext = |port| at(Place::External, port);
        assert_eq!(endpoint("smtp://relay.mail.svc", "smtp"), relay(25));
        assert_eq!(
            endpoint("smtp://u:p@smtp.example.com?tls=required", "smtp"),
            ext(587)
        );
        assert_eq!(
            endpoint("smtp://smtp.example.com/?tls=opportunistic", "smtp"),
            ext(587)
        );
        assert_eq!(endpoint("smtps://u:p@smtp.example.com", "smtp"), ext(465));
        assert_eq!(
            endpoint("smtp://smtp.example.com:2525?tls=required", "smtp"),
            ext(2525)
        );
    }
}
