//! Shared state of the reconcilers: one client, one event recorder, one backoff table.

use std::sync::Arc;

use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::{Lookup, ObjectRef};
use tracing::warn;

use crate::backoff::Backoff;
use crate::build::BuildOptions;
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
            options,
            client,
        }
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
