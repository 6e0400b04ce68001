//! One tenant "acme", its cluster and the cluster's Secret on a fresh fake API server, and
//! the paths and objects the tenant tests compare requests with.

use std::sync::Arc;

use chemchat_backends::RoleSlot;
use chemchat_crds::{ChemChatCluster, ChemChatTenant};
use chemchat_operator::build::{
    BackendSecrets, BuildOptions, Child, ChildKind, build, redis_user_job_inputs, role_job_inputs,
    tenant_database_url, tenant_redis_url,
};
use chemchat_operator::context::Context;
use chemchat_operator::plan::plan;
use serde_json::{Value, json};

use super::{FakeApi, b64, object_path};

pub const TENANT: &str = "/apis/chemchat.io/v1alpha1/chemchattenants/acme";
pub const CLUSTER: &str =
    "/apis/chemchat.io/v1alpha1/namespaces/chemchat-system/chemchatclusters/main";
pub const SECRET: &str = "/api/v1/namespaces/chemchat-system/secrets/backends";
pub const NAMESPACE: &str = "/api/v1/namespaces/chemchat-acme";
/// The Secret with acme's database role password, in the cluster's namespace.
pub const ROLE_SECRET: &str = "/api/v1/namespaces/chemchat-system/secrets/db-role-acme";
/// The Job that makes acme's database role.
pub const ROLE_JOB: &str = "/apis/batch/v1/namespaces/chemchat-system/jobs/db-role-acme";
/// The password in [`ROLE_SECRET`].
pub const ROLE_PASSWORD: &str = "acme-role-password";
/// The uid of [`ROLE_SECRET`].
pub const ROLE_SECRET_UID: &str = "role-secret-uid";

/// The Job that retires acme's other database role after a rotation.
pub const RETIRE_ROLE_JOB: &str = "/apis/batch/v1/namespaces/chemchat-system/jobs/db-retire-acme";
/// The Job that retires acme's other Redis passwords after a rotation.
pub const RETIRE_REDIS_JOB: &str =
    "/apis/batch/v1/namespaces/chemchat-system/jobs/redis-retire-acme";
/// Acme's server Deployment.
pub const DEPLOYMENT: &str = "/apis/apps/v1/namespaces/chemchat-acme/deployments/chemchat-server";
/// Acme's Secret, with its servers' credentials.
pub const TENANT_ENV: &str = "/api/v1/namespaces/chemchat-acme/secrets/chemchat-server-env";

/// The Secret with acme's Redis user password, in the cluster's namespace.
pub const REDIS_SECRET: &str = "/api/v1/namespaces/chemchat-system/secrets/redis-user-acme";
/// The Job that makes acme's Redis user.
pub const REDIS_JOB: &str = "/apis/batch/v1/namespaces/chemchat-system/jobs/redis-user-acme";
/// The password in [`REDIS_SECRET`].
pub const REDIS_PASSWORD: &str = "acme-redis-password";
/// The uid of [`REDIS_SECRET`].
pub const REDIS_SECRET_UID: &str = "redis-secret-uid";

/// The cluster `main` with PostgreSQL, Redis and the signing key in one Secret.
pub fn cluster() -> Value {
    json!({
        "apiVersion": "chemchat.io/v1alpha1", "kind": "ChemChatCluster",
        "metadata": {"name": "main", "namespace": "chemchat-system", "generation": 1},
        "spec": {
            "image": {"repository": "chemchat/chemchat-server", "tag": "dev"},
            "postgres": {"urlSecretRef": {"name": "backends", "key": "postgres-url"}},
            "redis": {"urlSecretRef": {"name": "backends", "key": "redis-url"}},
            "auth": {"jwtSecretRef": {"name": "backends", "key": "jwt-secret"}}
        }
    })
}

/// The values of the cluster's Secret, as `build` receives them: the database and Redis URLs are
/// acme's own role's and user's, made from the cluster's and [`ROLE_PASSWORD`] and
/// [`REDIS_PASSWORD`].
pub fn secrets() -> BackendSecrets {
    BackendSecrets {
        database_url: tenant_database_url(
            "postgres://pg/chemchat",
            "acme",
            ROLE_PASSWORD,
            RoleSlot::A,
        )
        .unwrap(),
        redis_url: tenant_redis_url("redis://redis:6379", "acme", REDIS_PASSWORD).unwrap(),
        jwt_secret: "s3cr3t".into(),
        ..BackendSecrets::default()
    }
}

/// Tenant `acme` of `tier` with `extra` merged into its spec, finalizer already set.
pub fn tenant(tier: &str, extra: Value) -> Value {
    let mut spec = json!({
        "clusterRef": {"name": "main", "namespace": "chemchat-system"},
        "displayName": "Acme", "tier": tier
    });
    support_merge(&mut spec, extra);
    json!({
        "apiVersion": "chemchat.io/v1alpha1", "kind": "ChemChatTenant",
        "metadata": {"name": "acme", "uid": "tenant-uid", "generation": 1, "finalizers": ["chemchat.io/cleanup"]},
        "spec": spec
    })
}

fn support_merge(into: &mut Value, extra: Value) {
    if let (Value::Object(a), Value::Object(b)) = (into, extra) {
        a.extend(b);
    }
}

/// A fake API server holding the cluster, its secret and the tenant.
pub fn world(tenant_json: Value) -> (Arc<Context>, FakeApi) {
    world_with(tenant_json, BuildOptions::default())
}

/// [`world`] with the install's build options.
pub fn world_with(tenant_json: Value, options: BuildOptions) -> (Arc<Context>, FakeApi) {
    let (client, fake) = FakeApi::start();
    fake.insert(CLUSTER, cluster());
    fake.insert(
        SECRET,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "backends", "namespace": "chemchat-system"},
            "data": {"postgres-url": b64("postgres://pg/chemchat"), "redis-url": b64("redis://redis:6379"), "jwt-secret": b64("s3cr3t")}}),
    );
    fake.insert(TENANT, tenant_json);
    insert_database_role(&fake, "acme", &cluster_object());
    insert_redis_user(&fake, "acme", &cluster_object());
    let ctx = Arc::new(Context::new(client, options, Some("test".into())));
    (ctx, fake)
}

/// `tenant`'s database role as a finished earlier pass left it: the password Secret
/// ([`ROLE_PASSWORD`], slot `a`, nothing older left to retire) and the role Job, complete, run
/// for `cluster`'s image.
pub fn insert_database_role(fake: &FakeApi, tenant: &str, cluster: &ChemChatCluster) {
    let name = format!("db-role-{tenant}");
    fake.insert(
        &format!("/api/v1/namespaces/chemchat-system/secrets/{name}"),
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": "chemchat-system", "uid": ROLE_SECRET_UID,
                "annotations": {"chemchat.io/role-slot": "a",
                    "chemchat.io/older-credential-retired": "true"}},
            "data": {"password": b64(ROLE_PASSWORD)}}),
    );
    fake.insert(
        &format!("/apis/batch/v1/namespaces/chemchat-system/jobs/{name}"),
        json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": "chemchat-system",
                "annotations": {"chemchat.io/role-inputs":
                    role_job_inputs(cluster, ROLE_SECRET_UID, RoleSlot::A)}},
            "status": {"conditions": [{"type": "Complete", "status": "True"}]}}),
    );
}

/// `tenant`'s Redis user as a finished earlier pass left it: the password Secret
/// ([`REDIS_PASSWORD`], nothing older left to retire) and the user Job, complete, run for
/// `cluster`'s image.
pub fn insert_redis_user(fake: &FakeApi, tenant: &str, cluster: &ChemChatCluster) {
    let name = format!("redis-user-{tenant}");
    fake.insert(
        &format!("/api/v1/namespaces/chemchat-system/secrets/{name}"),
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": "chemchat-system", "uid": REDIS_SECRET_UID,
                "annotations": {"chemchat.io/older-credential-retired": "true"}},
            "data": {"password": b64(REDIS_PASSWORD)}}),
    );
    fake.insert(
        &format!("/apis/batch/v1/namespaces/chemchat-system/jobs/{name}"),
        json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": "chemchat-system",
                "annotations": {"chemchat.io/role-inputs": redis_user_job_inputs(cluster, REDIS_SECRET_UID)}},
            "status": {"conditions": [{"type": "Complete", "status": "True"}]}}),
    );
}

/// The cluster `main` as the operator reads it.
pub fn cluster_object() -> ChemChatCluster {
    serde_json::from_value(cluster()).unwrap()
}

/// The tenant as the controller would hand it over: read back from the server.
pub fn current(fake: &FakeApi) -> Arc<ChemChatTenant> {
    Arc::new(serde_json::from_value(fake.get(TENANT).unwrap()).unwrap())
}

/// The stored tenant's status condition of `type_`.
pub fn tenant_condition(fake: &FakeApi, type_: &str) -> serde_json::Value {
    fake.get(TENANT).unwrap()["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == type_)
        .cloned()
        .unwrap()
}

/// What `build` makes of the tenant and cluster stored in `fake`.
pub fn expected_children(fake: &FakeApi) -> Vec<Child> {
    let t = current(fake);
    let c: ChemChatCluster = serde_json::from_value(fake.get(CLUSTER).unwrap()).unwrap();
    build(&plan(&t, &c).unwrap(), &secrets(), &BuildOptions::default()).unwrap()
}

/// The body of the one child of `kind` among `children`.
pub fn object_of(children: &[Child], kind: ChildKind) -> Value {
    children
        .iter()
        .find(|c| c.kind == kind)
        .unwrap()
        .object
        .clone()
}

/// A kind's cluster-wide collection path.
pub fn collection(kind: ChildKind) -> String {
    let ar = kind.api_resource();
    if ar.group.is_empty() {
        format!("/api/{}/{}", ar.version, ar.plural)
    } else {
        format!("/apis/{}/{}/{}", ar.group, ar.version, ar.plural)
    }
}

/// The API path of a built child.
pub fn child_path(c: &Child) -> String {
    object_path(&collection(c.kind), c.namespace.as_deref(), &c.name)
}

/// A kind's collection inside the tenant namespace.
pub fn namespaced_collection(kind: ChildKind) -> String {
    let (prefix, plural) = collection(kind)
        .rsplit_once('/')
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .unwrap();
    format!("{prefix}/namespaces/chemchat-acme/{plural}")
}

/// A Deployment's `status` as its controller writes it: `replicas` wanted (plus one surge pod
/// while not all are updated), `updated` of the current template, `available` serving.
pub fn deployment_status(replicas: i64, updated: i64, available: i64) -> Value {
    let surge = i64::from(updated < replicas);
    let progressing = if updated == replicas && available == replicas {
        (
            "NewReplicaSetAvailable",
            "ReplicaSet \"chemchat-server-1\" has successfully progressed.",
        )
    } else {
        (
            "ReplicaSetUpdated",
            "ReplicaSet \"chemchat-server-2\" is progressing.",
        )
    };
    json!({
        "observedGeneration": 1, "replicas": replicas + surge, "updatedReplicas": updated,
        "readyReplicas": available, "availableReplicas": available,
        "conditions": [
            {"type": "Available", "status": if available >= replicas { "True" } else { "False" },
             "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."},
            {"type": "Progressing", "status": "True", "reason": progressing.0, "message": progressing.1}
        ]
    })
}

/// The Deployment controller's report: `updated` of `replicas` wanted pods on the current
/// template, all of them serving, plus one pod of the older template while not all are updated.
pub fn deployment_reports(fake: &FakeApi, updated: i64) {
    fake.edit(DEPLOYMENT, |d| {
        let replicas = d["spec"]["replicas"].as_i64().unwrap_or(1);
        d["status"] = deployment_status(replicas, updated.min(replicas), replicas);
    });
}

/// A Job of the cluster's namespace at `path` finished with `outcome` (`Complete`, `Failed`).
pub fn finish_job(fake: &FakeApi, path: &str, outcome: &str) {
    fake.edit(path, |job| {
        job["status"] = json!({"conditions": [{"type": outcome, "status": "True",
            "reason": if outcome == "Failed" { "BackoffLimitExceeded" } else { "Completed" },
            "message": ""}]});
    });
}
