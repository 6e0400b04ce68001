//! `TopicsReady` and `SearchIndexReady`: the tenant reconciler with a scripted API server and
//! the real broker and search server (tansu and osmem from `make services`). Each test has its
//! own tenant name, so its topic and index never meet another test's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::world::{deployment_status, insert_database_role, insert_redis_user};
use crate::support::{FakeApi, b64, event_note, events, finish_purge_job};
use chemchat_backends::search_index::IndexAdmin;
use chemchat_backends::topics::TopicAdmin;
use chemchat_crds::ChemChatTenant;
use chemchat_crds::contract::{events_topic, messages_index};
use chemchat_operator::build::BuildOptions;
use chemchat_operator::context::Context;
use chemchat_operator::provision;
use chemchat_operator::tenant::{error_policy, reconcile};
use kube::runtime::controller::Action;
use serde_json::{Value, json};

const CLUSTER: &str = "/apis/chemchat.io/v1alpha1/namespaces/chemchat-system/chemchatclusters/main";
const TIMEOUT: Duration = Duration::from_secs(2);

fn brokers() -> String {
    std::env::var("CHEMCHAT_TEST_KAFKA_BROKERS").unwrap_or_else(|_| {
        panic!("CHEMCHAT_TEST_KAFKA_BROKERS is not set: run `make services` (Kafka: tansu)")
    })
}

fn search_url() -> String {
    std::env::var("CHEMCHAT_TEST_SEARCH_URL").unwrap_or_else(|_| {
        panic!("CHEMCHAT_TEST_SEARCH_URL is not set: run `make services` (search: osmem-server)")
    })
}

/// An address where nothing listens.
fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// One tenant, its cluster (pointing at `brokers` and `search`) and a fake API server.
struct World {
    ctx: Arc<Context>,
    fake: FakeApi,
    name: String,
}

impl World {
    fn new(brokers: &str, search: &str, policy: &str) -> Self {
        let name = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let (client, fake) = FakeApi::start();
        fake.insert(CLUSTER, cluster(brokers, search));
        fake.insert(
            "/api/v1/namespaces/chemchat-system/secrets/backends",
            secret(
                "backends",
                &[
                    ("postgres-url", "postgres://pg/chemchat"),
                    ("redis-url", "redis://redis:6379"),
                    ("jwt-secret", "s3cr3t"),
                ],
            ),
        );
        fake.insert(
            "/api/v1/namespaces/chemchat-system/secrets/search-credentials",
            secret(
                "search-credentials",
                &[("username", "chemchat"), ("password", "search-pass")],
            ),
        );
        let world = Self {
            ctx: Arc::new(Context {
                provisioners: provision::all(client.clone(), TIMEOUT),
                ..Context::new(client, BuildOptions::default(), Some("test".into()))
            }),
            fake,
            name,
        };
        let cluster_object = serde_json::from_value(cluster(brokers, search)).unwrap();
        insert_database_role(&world.fake, &world.name, &cluster_object);
        insert_redis_user(&world.fake, &world.name, &cluster_object);
        world.fake.insert(
            &world.tenant_path(),
            json!({
                "apiVersion": "chemchat.io/v1alpha1", "kind": "ChemChatTenant",
                "metadata": {"name": world.name, "uid": "tenant-uid", "generation": 1,
                    "finalizers": ["chemchat.io/cleanup"]},
                "spec": {"clusterRef": {"name": "main", "namespace": "chemchat-system"},
                    "displayName": "Test", "tier": "Free", "deletionPolicy": policy}
            }),
        );
        world
    }

    fn tenant_path(&self) -> String {
        format!("/apis/chemchat.io/v1alpha1/chemchattenants/{}", self.name)
    }

    fn current(&self) -> Arc<ChemChatTenant> {
        Arc::new(serde_json::from_value(self.fake.get(&self.tenant_path()).unwrap()).unwrap())
    }

    async fn reconcile(&self) -> chemchat_operator::Result<Action> {
        reconcile(self.current(), self.ctx.clone()).await
    }

    fn condition(&self, type_: &str) -> Value {
        let tenant = self.fake.get(&self.tenant_path()).unwrap();
        tenant["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == type_)
            .cloned()
            .unwrap_or_else(|| panic!("no {type_} condition in {}", tenant["status"]))
    }

    fn phase(&self) -> Value {
        self.fake.get(&self.tenant_path()).unwrap()["status"]["phase"].clone()
    }

    fn edit_cluster(&self, brokers: &str, search: &str) {
        self.fake.insert(CLUSTER, cluster(brokers, search));
    }

    fn mark_deleted(&self) {
        self.fake.edit(&self.tenant_path(), |t| {
            t["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        });
    }

    /// A first cleanup pass under `Delete` deletes the namespace and starts the purge Job;
    /// the Job then completes.
    async fn purge_rows(&self) {
        assert_eq!(
            self.reconcile().await.unwrap(),
            Action::requeue(Duration::from_secs(10))
        );
        finish_purge_job(&self.fake, &self.name, "Complete");
    }

    fn finalizers(&self) -> Value {
        self.fake.get(&self.tenant_path()).unwrap()["metadata"]["finalizers"].clone()
    }

    async fn topic_partitions(&self) -> Option<i32> {
        let admin = TopicAdmin::new(&brokers(), TIMEOUT).unwrap();
        let topic = admin.describe(&events_topic(&self.name)).await.unwrap();
        topic.map(|t| t.partitions)
    }

    async fn index_exists(&self) -> bool {
        let admin = IndexAdmin::new(&search_url(), None, TIMEOUT).unwrap();
        admin.exists(&messages_index(&self.name)).await.unwrap()
    }

    /// Deletes what a test left behind on the shared services.
    async fn remove_backends(&self) {
        let topics = TopicAdmin::new(&brokers(), TIMEOUT).unwrap();
        topics.delete(&events_topic(&self.name)).await.unwrap();
        let index = IndexAdmin::new(&search_url(), None, TIMEOUT).unwrap();
        index.delete(&messages_index(&self.name)).await.unwrap();
    }
}

fn cluster(brokers: &str, search: &str) -> Value {
    json!({
        "apiVersion": "chemchat.io/v1alpha1", "kind": "ChemChatCluster",
        "metadata": {"name": "main", "namespace": "chemchat-system", "generation": 1},
        "spec": {
            "image": {"repository": "chemchat/chemchat-server", "tag": "dev"},
            "postgres": {"urlSecretRef": {"name": "backends", "key": "postgres-url"}},
            "redis": {"urlSecretRef": {"name": "backends", "key": "redis-url"}},
            "auth": {"jwtSecretRef": {"name": "backends", "key": "jwt-secret"}},
            "kafka": {"bootstrapServers": brokers,
                "topicDefaults": {"partitions": 2, "replicationFactor": 1, "retentionMs": 3_600_000}},
            "search": {"url": search, "credentialsSecretRef": {"name": "search-credentials"},
                "indexDefaults": {"shards": 1, "replicas": 0}}
        }
    })
}

fn secret(name: &str, data: &[(&str, &str)]) -> Value {
    let data: serde_json::Map<String, Value> = data
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(b64(v))))
        .collect();
    json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": "chemchat-system"}, "data": data})
}

#[tokio::test]
async fn the_topic_and_the_index_are_created_reported_and_then_left_alone() {
    let world = World::new(&brokers(), &search_url(), "Retain");
    world.reconcile().await.unwrap();
    let log = world.fake.take_log();
    assert_eq!(
        events(&log),
        vec!["TopicCreated", "IndexCreated", "Provisioning"]
    );
    let topic = events_topic(&world.name);
    let topics = world.condition("TopicsReady");
    assert_eq!(
        (&topics["status"], &topics["reason"]),
        (&json!("True"), &json!("Provisioned"))
    );
    assert_eq!(
        topics["message"],
        format!(
            "topic {topic} on {}: 2 partitions, retention.ms 3600000",
            brokers()
        )
    );
    let index = world.condition("SearchIndexReady");
    assert_eq!(
        (&index["status"], &index["reason"]),
        (&json!("True"), &json!("Provisioned"))
    );
    assert!(
        index["message"]
            .as_str()
            .unwrap()
            .contains(&messages_index(&world.name))
    );
    assert_eq!(world.topic_partitions().await, Some(2));
    assert!(world.index_exists().await);
    // The pods are not ready yet: the backends alone do not make the tenant Ready.
    assert_eq!(world.phase(), "Provisioning");

    // Settled: a second pass writes nothing and the conditions keep their times.
    world.reconcile().await.unwrap();
    let writes: Vec<_> = world
        .fake
        .take_log()
        .into_iter()
        .filter(|r| r.is_write())
        .collect();
    assert!(writes.is_empty(), "no-op reconcile wrote: {writes:?}");

    // The server becomes ready: every condition is True, so the tenant is Ready.
    let deployment = format!(
        "/apis/apps/v1/namespaces/chemchat-{}/deployments/chemchat-server",
        world.name
    );
    world.fake.edit(&deployment, |d| {
        d["status"] = deployment_status(1, 1, 1);
    });
    world.reconcile().await.unwrap();
    assert_eq!(world.phase(), "Ready");

    assert_eq!(
        world.condition("TopicsReady")["lastTransitionTime"],
        topics["lastTransitionTime"],
        "no flapping"
    );

    // Fewer partitions for this tenant: Kafka cannot do that, and the tenant says so without
    // retrying (a retry cannot fix a spec). Growing needs CreatePartitions, which tansu lacks;
    // chemchat-backends' tests cover that path.
    world.fake.edit(&world.tenant_path(), |t| {
        t["spec"]["kafka"] = json!({"partitions": 1});
        t["metadata"]["generation"] = json!(2);
    });
    assert_eq!(
        world.reconcile().await.unwrap(),
        Action::requeue(Duration::from_secs(30))
    );
    let shrink = world.condition("TopicsReady");
    assert_eq!(
        (&shrink["status"], &shrink["reason"]),
        (&json!("False"), &json!("PartitionsCannotShrink"))
    );
    assert!(
        shrink["message"]
            .as_str()
            .unwrap()
            .contains("cannot remove partitions")
    );
    assert_eq!(world.phase(), "Degraded");
    assert_eq!(world.condition("Ready")["reason"], "PartitionsCannotShrink");
    assert_eq!(world.topic_partitions().await, Some(2));
    // Back to the cluster default: True again, with a new transition time.
    world.fake.edit(&world.tenant_path(), |t| {
        t["spec"].as_object_mut().unwrap().remove("kafka");
        t["metadata"]["generation"] = json!(3);
    });
    world.reconcile().await.unwrap();
    assert_eq!(world.condition("TopicsReady")["status"], "True");
    assert_eq!(world.phase(), "Ready");
    world.remove_backends().await;
}

#[tokio::test]
async fn an_unreachable_backend_is_a_false_condition_and_a_retry_with_backoff() {
    let dead_brokers = closed_port();
    let world = World::new(&dead_brokers, &search_url(), "Retain");
    let started = Instant::now();
    let err = world.reconcile().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(err.metric_label(), "provision");
    assert!(err.to_string().contains(&dead_brokers), "{err}");
    assert_eq!(
        error_policy(world.current(), &err, world.ctx.clone()),
        Action::requeue(Duration::from_secs(2))
    );
    let topics = world.condition("TopicsReady");
    assert_eq!(
        (&topics["status"], &topics["reason"]),
        (&json!("False"), &json!("BackendUnreachable"))
    );
    let message = topics["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("Kafka unreachable at {dead_brokers}")),
        "{message}"
    );
    // The search index does not depend on Kafka.
    assert_eq!(world.condition("SearchIndexReady")["status"], "True");
    let ready = world.condition("Ready");
    assert_eq!(
        (&ready["status"], &ready["reason"]),
        (&json!("False"), &json!("BackendUnreachable"))
    );
    assert_eq!(world.phase(), "Provisioning");

    // Still down: the condition keeps its transition time, the backoff grows.
    let err = world.reconcile().await.unwrap_err();
    assert_eq!(
        error_policy(world.current(), &err, world.ctx.clone()),
        Action::requeue(Duration::from_secs(4))
    );
    assert_eq!(
        world.condition("TopicsReady")["lastTransitionTime"],
        topics["lastTransitionTime"]
    );

    // Kafka is back, the search server is gone: the conditions swap.
    let dead_search = format!("http://{}", closed_port());
    world.edit_cluster(&brokers(), &dead_search);
    let err = world.reconcile().await.unwrap_err();
    assert!(err.to_string().contains(&dead_search), "{err}");
    assert_eq!(world.condition("TopicsReady")["status"], "True");
    let index = world.condition("SearchIndexReady");
    assert_eq!(
        (&index["status"], &index["reason"]),
        (&json!("False"), &json!("BackendUnreachable"))
    );
    let message = index["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("search unreachable at {dead_search}")),
        "{message}"
    );
    assert!(!message.contains("search-pass"), "{message}");
    world.remove_backends().await;
}

#[tokio::test]
async fn deletion_with_policy_delete_removes_the_topic_and_the_index() {
    let world = World::new(&brokers(), &search_url(), "Delete");
    world.reconcile().await.unwrap();
    assert!(world.topic_partitions().await.is_some() && world.index_exists().await);
    world.mark_deleted();
    world.purge_rows().await;
    world.fake.take_log();
    assert_eq!(world.reconcile().await.unwrap(), Action::await_change());
    let log = world.fake.take_log();
    assert!(
        log.iter()
            .any(|r| r.path.ends_with("/secrets/search-credentials")),
        "the search credentials are read for the delete"
    );
    let note = event_note(&log, "CleanedUp");
    assert!(
        note.contains(&format!(
            "kafka: deleted topic {}",
            events_topic(&world.name)
        )),
        "{note}"
    );
    assert!(
        note.contains(&format!(
            "search: deleted index {}",
            messages_index(&world.name)
        )),
        "{note}"
    );
    assert_eq!(world.topic_partitions().await, None);
    assert!(!world.index_exists().await);
    assert_eq!(world.finalizers(), json!([]));
}

#[tokio::test]
async fn deletion_with_policy_retain_keeps_the_topic_and_the_index() {
    let world = World::new(&brokers(), &search_url(), "Retain");
    world.reconcile().await.unwrap();
    world.mark_deleted();
    world.fake.take_log();
    assert_eq!(world.reconcile().await.unwrap(), Action::await_change());
    let note = event_note(&world.fake.take_log(), "CleanedUp");
    assert!(
        note.contains("kafka: retained (topic") && note.contains("search: retained (index"),
        "{note}"
    );
    assert_eq!(world.topic_partitions().await, Some(2));
    assert!(world.index_exists().await);
    assert_eq!(world.finalizers(), json!([]));
    world.remove_backends().await;
}

#[tokio::test]
async fn deletion_waits_for_an_unreachable_backend_instead_of_leaking_its_data() {
    let world = World::new(&brokers(), &search_url(), "Delete");
    world.reconcile().await.unwrap();
    let dead_search = format!("http://{}", closed_port());
    world.edit_cluster(&brokers(), &dead_search);
    world.mark_deleted();
    world.purge_rows().await;
    let err = world.reconcile().await.unwrap_err();
    assert_eq!(err.metric_label(), "cleanup");
    assert!(err.to_string().contains(&dead_search), "{err}");
    assert_eq!(
        world.finalizers(),
        json!(["chemchat.io/cleanup"]),
        "finalizer kept"
    );
    // The search server is back: the retry completes, and the topic deleted last time counts
    // as already gone.
    world.edit_cluster(&brokers(), &search_url());
    assert_eq!(world.reconcile().await.unwrap(), Action::await_change());
    let note = event_note(&world.fake.take_log(), "CleanedUp");
    assert!(
        note.contains("already gone") && note.contains("deleted index"),
        "{note}"
    );
    assert_eq!(world.finalizers(), json!([]));
}
