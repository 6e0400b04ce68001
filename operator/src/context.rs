//! Shared state of the reconcilers: one client, one event recorder, one backoff table.

use std::sync::Arc;

use std::sync::atomic::AtomicU64;

use chemchat_crds::ChemChatTenant;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::Store;
use kube::runtime::reflector::{Lookup, ObjectRef};
use tracing::warn;

use crate::backoff::Backoff;
use crate::build::BuildOptions;
use crate::heartbeat::Heartbeat;
use crate::provision::{self, BACKEND_TIMEOUT, Provisioner};

/// Everything a reconcile needs besides the object.
#[derive(Clone)]
pub struct Context {
    /// API client.
    pub client: Client,
    /// Build options of this install.
    pub options: BuildOptions,
    /// The one event recorder (it deduplicates repeated events into series).
    pub recorder: Recorder,
    /// Per-object error backoff.
    pub backoff: Arc<Backoff>,
    /// The backends each reconcile provisions and the finalizer cleans up, in order.
    pub provisioners: Vec<Arc<dyn Provisioner>>,
    /// The tenant controller's cache, when one runs: the cluster reconciler counts tenants in
    /// it instead of listing them.
    pub tenants: Option<Store<ChemChatTenant>>,
    /// Renewed by every finished reconcile; `/health/live` reads it.
    pub heartbeat: Arc<Heartbeat>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("options", &self.options)
            .field("provisioners", &self.provisioners)
            .finish()
    }
}

impl Context {
    /// The production context: the namespace, the Kafka topic and the search index.
    pub fn new(client: Client, options: BuildOptions, instance: Option<String>) -> Self {
        let reporter = Reporter {
            controller: "chemchat-operator".to_owned(),
            instance,
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            provisioners: provision::all(client.clone(), BACKEND_TIMEOUT),
            backoff: Arc::new(Backoff::default()),
            tenants: None,
            heartbeat: Arc::default(),
            options,
            client,
        }
    }

    /// The same context with the tenant controller's cache.
    pub fn with_tenant_cache(mut self, tenants: Store<ChemChatTenant>) -> Self {
        self.tenants = Some(tenants);
        self
    }

    /// The same context, renewing `heartbeat` (the one `/health/live` reads).
    pub fn with_heartbeat(mut self, heartbeat: Arc<Heartbeat>) -> Self {
        self.heartbeat = heartbeat;
        self
    }

    /// The same context, on a client that counts its requests (one per reconcile).
    pub fn counted(&self) -> (Arc<Self>, Arc<AtomicU64>) {
        let (client, calls) = crate::api_calls::counting(&self.client);
        let mut ctx = self.clone();
        ctx.client = client;
        (Arc::new(ctx), calls)
    }

    /// Publishes an Event about `obj`; failures are logged, never fatal (events are advisory).
    pub async fn event<K: Lookup<DynamicType = ()>>(
        &self,
        obj: &K,
        warning: bool,
        reason: &str,
        note: String,
    ) {
        let reference = ObjectRef::from_obj(obj).into();
        let event = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.to_owned(),
            note: Some(note),
            action: "Reconcile".to_owned(),
            secondary: None,
        };
        if let Err(err) = self.recorder.publish(&event, &reference).await {
            warn!(error = %err, reason, "cannot publish event");
        }
    }
}

/// Key of an object in the backoff table.
pub fn key<K: Lookup<DynamicType = ()>>(obj: &K) -> String {
    ObjectRef::from_obj(obj).to_string()
}
