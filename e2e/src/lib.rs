//! Black-box helpers for ChemChat's end-to-end tests: a client for the cluster named by
//! `CHEMCHAT_E2E_KUBECONTEXT`, applying YAML files, and waiting for conditions.
//!
//! The cluster tests themselves live in `tests/cluster.rs` behind the `cluster` feature; the
//! WebSocket load benchmark (`make bench`) lives in [`load`] and the `loadgen` and `reffanout`
//! binaries.

pub mod load;

use std::path::Path;
use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::discovery::{Discovery, Scope};
use kube::{Client, Config};
use serde::Deserialize as _;

/// Environment variable naming the kube context the cluster tests run against.
pub const CONTEXT_VAR: &str = "CHEMCHAT_E2E_KUBECONTEXT";

/// Why the end-to-end run cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum E2eError {
    /// No context was named.
    #[error("{CONTEXT_VAR} is not set; run the cluster tests through `make e2e`")]
    NoContext,
    /// The cluster does not answer.
    #[error(
        "no Kubernetes cluster reachable at context `{context}`: {message}; run `make kind-up images kind-load deploy`"
    )]
    Unreachable {
        /// Context tried.
        context: String,
        /// Underlying error.
        message: String,
    },
    /// A Kubernetes call failed.
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),
    /// A file could not be read or parsed.
    #[error("{path}: {message}")]
    File {
        /// File.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A wait ran out of time.
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, String),
}

/// A client for the context in [`CONTEXT_VAR`], after checking the cluster answers.
pub async fn client() -> Result<Client, E2eError> {
    let context = std::env::var(CONTEXT_VAR).map_err(|_| E2eError::NoContext)?;
    let unreachable = |message: String| E2eError::Unreachable {
        context: context.clone(),
        message,
    };
    let kubeconfig = Kubeconfig::read().map_err(|e| unreachable(e.to_string()))?;
    let options = KubeConfigOptions {
        context: Some(context.clone()),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let client = Client::try_from(config).map_err(|e| unreachable(e.to_string()))?;
    client
        .apiserver_version()
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    Ok(client)
}

/// Server-side applies every document of a YAML file (any kind the cluster knows).
pub async fn apply_file(client: &Client, path: &Path) -> Result<Vec<DynamicObject>, E2eError> {
    let file_error = |message: String| E2eError::File {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
    let discovery = Discovery::new(client.clone()).run().await?;
    let mut applied = Vec::new();
    for document in serde_yaml::Deserializer::from_str(&text) {
        let value =
            serde_json::Value::deserialize(document).map_err(|e| file_error(e.to_string()))?;
        if value.is_null() {
            continue;
        }
        let object: DynamicObject =
            serde_json::from_value(value).map_err(|e| file_error(e.to_string()))?;
        let types = object
            .types
            .clone()
            .ok_or_else(|| file_error("document without apiVersion/kind".into()))?;
        let gvk = GroupVersionKind::try_from(&types).map_err(|e| file_error(e.to_string()))?;
        let (resource, caps) = discovery
            .resolve_gvk(&gvk)
            .ok_or_else(|| file_error(format!("unknown kind {}", types.kind)))?;
        let name = object.metadata.name.clone().unwrap_or_default();
        let api: Api<DynamicObject> = match (&caps.scope, object.metadata.namespace.as_deref()) {
            (Scope::Namespaced, Some(ns)) => Api::namespaced_with(client.clone(), ns, &resource),
            (Scope::Namespaced, None) => Api::default_namespaced_with(client.clone(), &resource),
            (Scope::Cluster, _) => Api::all_with(client.clone(), &resource),
        };
        let params = PatchParams::apply("chemchat-e2e").force();
        applied.push(api.patch(&name, &params, &Patch::Apply(&object)).await?);
    }
    Ok(applied)
}

/// Polls `check` every two seconds until it returns true or `timeout` passes.
pub async fn wait_for<F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<(), E2eError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, E2eError>>,
{
    let started = Instant::now();
    loop {
        if check().await? {
            return Ok(());
        }
        if started.elapsed() > timeout {
            return Err(E2eError::Timeout(timeout, what.to_owned()));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// The repository root (examples, chart).
pub fn repo_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}
