//! The server itself: Deployment, Service, PodDisruptionBudget and the optional Ingress.

use std::collections::BTreeMap;

use chemchat_crds::contract::{ADMIN_PORT, DEFAULT_PORT, PATH_LIVE, PATH_METRICS, PATH_READY};
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Capabilities, ClientIPConfig, ConfigMapEnvSource, Container, ContainerPort,
    EmptyDirVolumeSource, EnvFromSource, HTTPGetAction, Lifecycle, LifecycleHandler,
    PodSecurityContext, PodSpec, PodTemplateSpec, Probe, SeccompProfile, SecretEnvSource,
    SecurityContext, Service, ServicePort, ServiceSpec, SessionAffinityConfig, SleepAction, Volume,
    VolumeMount,
};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::config::{CONFIG_MAP_NAME, DATA_DIR, SECRET_NAME};
use super::{BuildOptions, meta};
use crate::labels::{self, CONFIG_HASH_ANNOTATION, SERVER_NAME};
use crate::plan::TenantPlan;

const HTTP: &str = "http";
/// The container port of the admin listener: probes and scraping. No Service or Ingress names
/// it, so it is never reachable from outside the cluster.
const ADMIN: &str = "admin";

fn selector(plan: &TenantPlan) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels::selector_labels(&plan.name)),
        ..LabelSelector::default()
    }
}

/// A probe on the admin listener, the only one that serves the health endpoints.
fn admin_probe(path: &str, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String(ADMIN.to_owned()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        ..Probe::default()
    }
}

/// The config hash (a change rolls the pods) and the classic `prometheus.io/*` scrape
/// annotations: the autoscaler's metric must be scraped whatever the install offers, and a
/// Prometheus without the Operator's PodMonitor finds the pods by these, on the admin port.
fn pod_annotations(config_hash: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (CONFIG_HASH_ANNOTATION.to_owned(), config_hash.to_owned()),
        ("prometheus.io/scrape".to_owned(), "true".to_owned()),
        ("prometheus.io/port".to_owned(), ADMIN_PORT.to_string()),
        ("prometheus.io/path".to_owned(), PATH_METRICS.to_owned()),
    ])
}

fn container_port(name: &str, port: u16) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_owned()),
        container_port: i32::from(port),
        protocol: Some("TCP".to_owned()),
        ..ContainerPort::default()
    }
}

/// The pod-level half of Pod Security `restricted`: a fixed non-root user, the runtime's
/// seccomp profile.
pub(super) fn restricted_pod() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(10001),
        run_as_group: Some(10001),
        fs_group: Some(10001),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            ..SeccompProfile::default()
        }),
        ..PodSecurityContext::default()
    }
}

/// The container-level half of Pod Security `restricted`, plus a read-only root filesystem.
pub(super) fn restricted_container() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            add: None,
        }),
        ..SecurityContext::default()
    }
}

/// The server Deployment. `spec.replicas` is left out whenever an autoscaler owns it, so a
/// server-side apply never fights the HPA; suspension pins it to zero.
pub fn deployment(plan: &TenantPlan, config_hash: &str) -> Deployment {
    let replicas = if plan.suspend {
        Some(0)
    } else if plan.autoscaled() {
        None
    } else {
        Some(plan.min_replicas)
    };
    let container = Container {
        name: SERVER_NAME.to_owned(),
        image: Some(plan.image.reference()),
        image_pull_policy: Some(plan.image.pull_policy.as_str().to_owned()),
        args: Some(vec!["serve".to_owned()]),
        ports: Some(vec![
            container_port(HTTP, DEFAULT_PORT),
            container_port(ADMIN, ADMIN_PORT),
        ]),
        env_from: Some(vec![
            EnvFromSource {
                config_map_ref: Some(ConfigMapEnvSource {
                    name: CONFIG_MAP_NAME.to_owned(),
                    optional: None,
                }),
                ..EnvFromSource::default()
            },
            EnvFromSource {
                secret_ref: Some(SecretEnvSource {
                    name: SECRET_NAME.to_owned(),
                    optional: None,
                }),
                ..EnvFromSource::default()
            },
        ]),
        liveness_probe: Some(admin_probe(PATH_LIVE, 10, 3)),
        readiness_probe: Some(admin_probe(PATH_READY, 5, 2)),
        // Let load balancers drop the pod before the server starts draining WebSockets.
        lifecycle: Some(Lifecycle {
            pre_stop: Some(LifecycleHandler {
                sleep: Some(SleepAction { seconds: 5 }),
                ..LifecycleHandler::default()
            }),
            ..Lifecycle::default()
        }),
        resources: Some(plan.pod_resources.clone()),
        security_context: Some(restricted_container()),
        volume_mounts: Some(vec![
            VolumeMount {
                name: "data".to_owned(),
                mount_path: DATA_DIR.to_owned(),
                ..VolumeMount::default()
            },
            VolumeMount {
                name: "tmp".to_owned(),
                mount_path: "/tmp".to_owned(),
                ..VolumeMount::default()
            },
        ]),
        ..Container::default()
    };
    // Capped, so one pod cannot fill its node's disk (the namespace quota caps the sum).
    let empty_dir = |name: &str, size: &str| Volume {
        name: name.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource {
            size_limit: Some(Quantity(size.to_owned())),
            ..EmptyDirVolumeSource::default()
        }),
        ..Volume::default()
    };
    let mut pod_labels = labels::labels(&plan.name, "server");
    pod_labels.retain(|k, _| k != "app.kubernetes.io/managed-by");
    Deployment {
        metadata: meta(plan, SERVER_NAME, "server", true),
        spec: Some(DeploymentSpec {
            replicas,
            selector: selector(plan),
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::Int(1)),
                    max_unavailable: Some(IntOrString::Int(0)),
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(pod_annotations(config_hash)),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(SERVER_NAME.to_owned()),
                    automount_service_account_token: Some(false),
                    // Long enough for the server to tell clients to reconnect and drain.
                    termination_grace_period_seconds: Some(60),
                    security_context: Some(restricted_pod()),
                    containers: vec![container],
                    volumes: Some(vec![empty_dir("data", "1Gi"), empty_dir("tmp", "256Mi")]),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

/// How long a client sticks to one server pod: Socket.IO long-polling sends each request of a
/// session separately, and they must all reach the pod that holds the session. (The API
/// server's default for `ClientIP` affinity; stated, so a no-op reconcile writes nothing.)
const AFFINITY_SECONDS: i32 = 10_800;

/// ClusterIP Service on port 80 in front of the server's port. Only `http`: the Ingress routes
/// this Service, and the admin port must stay unrouted. Client-IP affinity, for Socket.IO
/// long-polling from inside the cluster.
pub fn service(plan: &TenantPlan) -> Service {
    Service {
        metadata: meta(plan, SERVER_NAME, "server", true),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_owned()),
            session_affinity: Some("ClientIP".to_owned()),
            session_affinity_config: Some(SessionAffinityConfig {
                client_ip: Some(ClientIPConfig {
                    timeout_seconds: Some(AFFINITY_SECONDS),
                }),
            }),
            selector: Some(labels::selector_labels(&plan.name)),
            ports: Some(vec![ServicePort {
                name: Some(HTTP.to_owned()),
                port: 80,
                target_port: Some(IntOrString::String(HTTP.to_owned())),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// At most one server pod down at a time during voluntary disruptions.
pub fn pod_disruption_budget(plan: &TenantPlan) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: meta(plan, SERVER_NAME, "server", true),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(selector(plan)),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }
}

/// The Ingress for `spec.ingress.host`, with TLS when a secret is named.
pub fn ingress(plan: &TenantPlan, options: &BuildOptions) -> Option<Ingress> {
    let (host, tls) = plan.ingress.as_ref()?;
    let backend = IngressBackend {
        service: Some(IngressServiceBackend {
            name: SERVER_NAME.to_owned(),
            port: Some(ServiceBackendPort {
                name: Some(HTTP.to_owned()),
                number: None,
            }),
        }),
        ..IngressBackend::default()
    };
    let mut metadata = meta(plan, SERVER_NAME, "server", true);
    // ingress-nginx balances over the pods itself, past the Service's affinity: a cookie keeps
    // a Socket.IO long-polling client on the pod that holds its session.
    metadata.annotations = Some(
        [
            ("nginx.ingress.kubernetes.io/affinity", "cookie"),
            (
                "nginx.ingress.kubernetes.io/session-cookie-name",
                "chemchat-affinity",
            ),
            ("nginx.ingress.kubernetes.io/session-cookie-samesite", "Lax"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
    );
    Some(Ingress {
        metadata,
        spec: Some(IngressSpec {
            ingress_class_name: options.ingress_class.clone(),
            tls: tls.as_ref().map(|secret| {
                vec![IngressTLS {
                    hosts: Some(vec![host.clone()]),
                    secret_name: Some(secret.clone()),
                }]
            }),
            rules: Some(vec![IngressRule {
                host: Some(host.clone()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/".to_owned()),
                        path_type: "Prefix".to_owned(),
                        backend,
                    }],
                }),
            }]),
            ..IngressSpec::default()
        }),
        ..Ingress::default()
    })
}
