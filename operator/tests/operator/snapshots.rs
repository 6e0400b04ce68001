//! `build` from YAML fixtures, for each tier and option, compared with committed YAML
//! snapshots in `tests/snapshots/` (`UPDATE_SNAPSHOTS=1 cargo test -p chemchat-operator
//! --test operator snapshots` rewrites them; review the diff before committing).

use std::path::PathBuf;

use crate::support::decoded;
use chemchat_backends::RoleSlot;
use chemchat_crds::contract;
use chemchat_crds::{ChemChatCluster, ChemChatTenant};
use chemchat_operator::build::{
    Autoscaler, BuildOptions, Child, ChildKind, database_role_name, purge_job, purge_job_name,
    redis_user_job, redis_user_job_inputs, redis_user_name, retire_redis_job,
    retire_redis_job_inputs, retire_redis_job_name, retire_role_job, retire_role_job_inputs,
    retire_role_job_name, role_job, role_job_inputs,
};
use chemchat_operator::render::{render_children, to_yaml};
use k8s_openapi::api::batch::v1::Job;

fn dir(sub: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(sub)
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(dir("fixtures").join(name)).unwrap()
}

fn keda() -> BuildOptions {
    BuildOptions {
        autoscaler: Autoscaler::Keda {
            prometheus_address: "http://prometheus.monitoring:9090".to_owned(),
        },
        ingress_class: Some("nginx".to_owned()),
        ..BuildOptions::default()
    }
}

/// (snapshot name, tenant fixture, cluster fixture, options)
fn cases() -> Vec<(
    &'static str,
    &'static str,
    Option<&'static str>,
    BuildOptions,
)> {
    vec![
        (
            "free",
            "tenant-free.yaml",
            Some("cluster-minimal.yaml"),
            BuildOptions::default(),
        ),
        (
            "free-placeholder-cluster",
            "tenant-free.yaml",
            None,
            BuildOptions::default(),
        ),
        (
            "pro-full-cluster",
            "tenant-pro.yaml",
            Some("cluster-full.yaml"),
            BuildOptions::default(),
        ),
        (
            "enterprise-ingress",
            "tenant-enterprise.yaml",
            Some("cluster-full.yaml"),
            BuildOptions::default(),
        ),
        (
            "enterprise-keda",
            "tenant-enterprise.yaml",
            Some("cluster-minimal.yaml"),
            keda(),
        ),
        (
            "suspended",
            "tenant-suspended.yaml",
            Some("cluster-minimal.yaml"),
            BuildOptions::default(),
        ),
    ]
}

fn build_case(tenant: &str, cluster: Option<&str>, options: &BuildOptions) -> Vec<Child> {
    let cluster = cluster.map(fixture);
    render_children(&fixture(tenant), cluster.as_deref(), options).unwrap()
}

#[test]
fn build_matches_the_snapshots() {
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut stale = Vec::new();
    for (name, tenant, cluster, options) in cases() {
        let yaml = to_yaml(&build_case(tenant, cluster, &options)).unwrap();
        let path = dir("snapshots").join(format!("{name}.yaml"));
        if update {
            std::fs::write(&path, &yaml).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(yaml.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "build output differs from {stale:?}; rerun with UPDATE_SNAPSHOTS=1 and review the diff"
    );
}

/// `job` as YAML equals the committed snapshot `file` (`make k8s-check` validates the
/// snapshots), and the Job runs in the platform namespace, owned by its tenant.
fn assert_job_snapshot(file: &str, job: &Job) {
    let yaml = serde_yaml::to_string(job).unwrap();
    let path = dir("snapshots").join(file);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &yaml).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(&path).ok().as_deref(),
        Some(yaml.as_str()),
        "{file}: rerun with UPDATE_SNAPSHOTS=1 and review the diff"
    );
    assert_eq!(job.metadata.namespace.as_deref(), Some("chemchat-system"));
    let owner = &job.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(owner.uid, "0b7d5a8e-0000-4000-8000-0000000000a2");
}

/// The purge, role and Redis user Jobs and their retire Jobs, each in its own snapshot.
#[test]
fn the_jobs_match_their_snapshots() {
    let tenant: ChemChatTenant = serde_yaml::from_str(&fixture("tenant-pro.yaml")).unwrap();
    let cluster: ChemChatCluster = serde_yaml::from_str(&fixture("cluster-full.yaml")).unwrap();
    let (a, b) = (RoleSlot::A, RoleSlot::B);
    let jobs = [
        ("purge-job.yaml", purge_job(&tenant, &cluster)),
        (
            "database-role-job.yaml",
            role_job(
                &tenant,
                &cluster,
                &role_job_inputs(&cluster, "secret-uid", a),
                a,
            ),
        ),
        (
            "database-role-retire-job.yaml",
            retire_role_job(
                &tenant,
                &cluster,
                &retire_role_job_inputs(&cluster, "secret-uid", b),
                b,
            ),
        ),
        (
            "redis-user-job.yaml",
            redis_user_job(
                &tenant,
                &cluster,
                &redis_user_job_inputs(&cluster, "secret-uid"),
            ),
        ),
        (
            "redis-user-retire-job.yaml",
            retire_redis_job(
                &tenant,
                &cluster,
                &retire_redis_job_inputs(&cluster, "secret-uid"),
            ),
        ),
    ];
    for (file, job) in &jobs {
        assert_job_snapshot(file, job);
    }
    let inputs = [
        role_job_inputs(&cluster, "secret-uid", a),
        retire_role_job_inputs(&cluster, "secret-uid", a),
        redis_user_job_inputs(&cluster, "secret-uid"),
        retire_redis_job_inputs(&cluster, "secret-uid"),
    ];
    let distinct: std::collections::BTreeSet<_> = inputs.iter().collect();
    assert_eq!(
        distinct.len(),
        inputs.len(),
        "no Job's inputs pass for another's"
    );
}

/// A Job's name is its pods' `job-name` label: at most 63 characters for the longest tenant
/// id (54), and two long ids that begin alike still name two Jobs.
#[test]
fn every_job_name_fits_a_label() {
    let long = "t".repeat(54);
    let other = format!("{}u", "t".repeat(53));
    let names: [fn(&str) -> String; 5] = [
        purge_job_name,
        database_role_name,
        retire_role_job_name,
        redis_user_name,
        retire_redis_job_name,
    ];
    for name in names {
        assert!(name(&long).len() <= 63, "{} is too long", name(&long));
        assert_ne!(name(&long), name(&other));
        assert!(name("acme").ends_with("-acme"), "short ids stay readable");
    }
}

/// Tenants get their own signing key and database role, never the platform's: the rendered
/// Secret names the derived key and the tenant's role, and mail settings when the cluster has
/// them.
#[test]
fn the_tenant_secret_holds_tenant_credentials_only() {
    let children = build_case(
        "tenant-pro.yaml",
        Some("cluster-full.yaml"),
        &BuildOptions::default(),
    );
    let secret = find(&children, ChildKind::Secret).unwrap();
    let data = secret.object["data"].as_object().unwrap();
    assert!(data.contains_key(contract::JWT_TENANT_KEY));
    assert!(!data.contains_key(contract::JWT_SECRET));
    assert!(data.contains_key(contract::SMTP_URL));
    let config = find(&children, ChildKind::ConfigMap).unwrap();
    assert_eq!(
        config.object["data"][contract::MAIL_FROM],
        "ChemChat <no-reply@chat.example.com>"
    );
    // The S3 key is the tenant's own user's (the default `PerTenant`), not the cluster's.
    let s3_key = decoded(&secret.object, contract::S3_ACCESS_KEY_ID);
    assert!(s3_key.contains("IAM user chemchat-initech-"), "{s3_key}");
    assert!(s3_key.contains("s3-user-initech/accessKeyId"), "{s3_key}");
    assert!(!s3_key.contains("s3-credentials"), "{s3_key}");
}

/// Under `tenantCredentials: Shared` the tenant's servers get the cluster's S3 key, as before.
#[test]
fn a_shared_s3_key_is_the_clusters() {
    let cluster = fixture("cluster-full.yaml").replace(
        "credentialsSecretRef: { name: s3-credentials }",
        "credentialsSecretRef: { name: s3-credentials }\n    tenantCredentials: Shared",
    );
    let children = render_children(
        &fixture("tenant-pro.yaml"),
        Some(&cluster),
        &BuildOptions::default(),
    )
    .unwrap();
    let secret = find(&children, ChildKind::Secret).unwrap();
    assert_eq!(
        decoded(&secret.object, contract::S3_ACCESS_KEY_ID),
        "<secret s3-credentials/accessKeyId>"
    );
}

#[test]
fn build_is_deterministic() {
    for (_, tenant, cluster, options) in cases() {
        assert_eq!(
            build_case(tenant, cluster, &options),
            build_case(tenant, cluster, &options)
        );
    }
}

fn find(children: &[Child], kind: ChildKind) -> Option<&Child> {
    children.iter().find(|c| c.kind == kind)
}

#[test]
fn every_child_is_labelled_and_owned_by_the_tenant() {
    for (name, tenant, cluster, options) in cases() {
        for child in build_case(tenant, cluster, &options) {
            let meta = &child.object["metadata"];
            let owner = &meta["ownerReferences"][0];
            assert_eq!(owner["kind"], "ChemChatTenant", "{name} {:?}", child.kind);
            assert_eq!(owner["controller"], true);
            assert!(owner["uid"].as_str().is_some_and(|u| !u.is_empty()));
            for label in [
                "app.kubernetes.io/name",
                "app.kubernetes.io/instance",
                "app.kubernetes.io/managed-by",
                "app.kubernetes.io/part-of",
                "chemchat.io/tenant",
            ] {
                assert!(
                    meta["labels"][label].is_string(),
                    "{name} {:?} lacks {label}",
                    child.kind
                );
            }
            assert!(meta["annotations"]["chemchat.io/applied-hash"].is_string());
            assert_eq!(child.namespace.is_some(), child.kind.namespaced());
        }
    }
}

#[test]
fn a_tenant_without_a_uid_renders_without_owner_references() {
    let tenant =
        fixture("tenant-free.yaml").replace("uid: 0b7d5a8e-0000-4000-8000-0000000000a1, ", "");
    assert!(!tenant.contains("uid"));
    for child in render_children(&tenant, None, &BuildOptions::default()).unwrap() {
        assert!(
            child.object["metadata"].get("ownerReferences").is_none(),
            "{:?}",
            child.kind
        );
    }
}

#[test]
fn an_autoscaled_deployment_has_no_replicas() {
    let children = build_case(
        "tenant-pro.yaml",
        Some("cluster-full.yaml"),
        &BuildOptions::default(),
    );
    let hpa = find(&children, ChildKind::HorizontalPodAutoscaler).unwrap();
    assert_eq!(
        hpa.object["spec"]["metrics"][0]["pods"]["metric"]["name"],
        contract::METRIC_WEBSOCKET_CONNECTIONS
    );
    assert_eq!(
        hpa.object["spec"]["metrics"][0]["pods"]["target"]["averageValue"],
        "1500"
    );
    let deployment = find(&children, ChildKind::Deployment).unwrap();
    assert!(deployment.object["spec"].get("replicas").is_none());
    // KEDA mode: a ScaledObject instead, never both.
    let children = build_case(
        "tenant-enterprise.yaml",
        Some("cluster-minimal.yaml"),
        &keda(),
    );
    assert!(find(&children, ChildKind::ScaledObject).is_some());
    assert!(find(&children, ChildKind::HorizontalPodAutoscaler).is_none());
    assert!(
        find(&children, ChildKind::Deployment).unwrap().object["spec"]
            .get("replicas")
            .is_none()
    );
}

#[test]
fn a_fixed_size_tenant_has_replicas_and_no_autoscaler() {
    let children = build_case(
        "tenant-free.yaml",
        Some("cluster-minimal.yaml"),
        &BuildOptions::default(),
    );
    assert_eq!(
        find(&children, ChildKind::Deployment).unwrap().object["spec"]["replicas"],
        1
    );
    assert!(find(&children, ChildKind::HorizontalPodAutoscaler).is_none());
    assert!(find(&children, ChildKind::Ingress).is_none());
}

#[test]
fn a_suspended_tenant_scales_to_zero_and_keeps_its_config() {
    let children = build_case(
        "tenant-suspended.yaml",
        Some("cluster-minimal.yaml"),
        &BuildOptions::default(),
    );
    assert_eq!(
        find(&children, ChildKind::Deployment).unwrap().object["spec"]["replicas"],
        0
    );
    assert!(find(&children, ChildKind::HorizontalPodAutoscaler).is_none());
    assert!(
        find(&children, ChildKind::Secret).is_some()
            && find(&children, ChildKind::Namespace).is_some()
    );
}

#[test]
fn the_environment_carries_the_contract() {
    let children = build_case(
        "tenant-pro.yaml",
        Some("cluster-full.yaml"),
        &BuildOptions::default(),
    );
    let config = &find(&children, ChildKind::ConfigMap).unwrap().object["data"];
    assert_eq!(config[contract::TENANT_ID], "initech");
    assert_eq!(config[contract::QUOTA_MAX_CONNECTIONS], "5000");
    for key in [
        contract::LISTEN,
        contract::KAFKA_BROKERS,
        contract::S3_BUCKET,
        contract::S3_REGION,
        contract::S3_ENDPOINT,
        contract::QUOTA_MAX_USERS,
        contract::QUOTA_MAX_CONVERSATIONS,
        contract::QUOTA_MAX_MESSAGES_PER_DAY,
        contract::QUOTA_MAX_STORAGE_BYTES,
    ] {
        assert!(config[key].is_string(), "ConfigMap lacks {key}");
    }
    let secret = &find(&children, ChildKind::Secret).unwrap().object["data"];
    for key in [
        contract::DATABASE_URL,
        contract::REDIS_URL,
        contract::JWT_TENANT_KEY,
        contract::SMTP_URL,
        contract::SEARCH_URL,
        contract::S3_ACCESS_KEY_ID,
        contract::S3_SECRET_ACCESS_KEY,
    ] {
        assert!(secret[key].is_string(), "Secret lacks {key}");
    }
}

#[test]
fn an_invalid_spec_names_the_field() {
    let err = render_children(
        &fixture("tenant-invalid-scaling.yaml"),
        None,
        &BuildOptions::default(),
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("spec.scaling.minReplicas"), "{message}");
    let tls_without_host = fixture("tenant-free.yaml")
        .replace("tier: Free", "tier: Free\n  ingress: { tlsSecretName: x }");
    let err = render_children(&tls_without_host, None, &BuildOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("spec.ingress.tlsSecretName"),
        "{err}"
    );
    // An explicit quota too small for maxReplicas + 1 pods would stall every rollout.
    let cramped = fixture("tenant-enterprise.yaml").replace("cpu: \"24\"", "cpu: \"4\"");
    let cluster = fixture("cluster-full.yaml");
    let err = render_children(&cramped, Some(&cluster), &BuildOptions::default()).unwrap_err();
    assert!(err.to_string().contains("spec.resources.cpu"), "{err}");
}
