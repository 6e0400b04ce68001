//! The part of the finalizer protocol kube-runtime's `finalizer` helper cannot express: a
//! cleanup that is not finished yet (a Job running, tenants still there) without counting as a
//! failure. The helper still adds the finalizer; the reconcilers call [`is_finalizing`] first
//! and [`release`] when their cleanup is done; [`reconcile_with`] puts the two together.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event, finalizer};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::error::{Error, Result};

/// What a cleanup pass ended with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cleanup {
    /// Everything is cleaned up: release the finalizer.
    Done,
    /// Something is still under way: look again after this long, keeping the finalizer.
    Wait(Duration),
}

/// True when `obj` is being deleted and still carries `finalizer`: its cleanup is due.
pub fn is_finalizing<K: Resource>(obj: &K, finalizer: &str) -> bool {
    obj.meta().deletion_timestamp.is_some() && obj.finalizers().iter().any(|f| f == finalizer)
}

/// Removes `finalizer` from `obj`. The JSON patch tests the index first, so a concurrent
/// change of the list fails the patch (and retries) instead of removing someone else's.
pub async fn release<K>(api: &Api<K>, obj: &K, finalizer: &str) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let Some(index) = obj.finalizers().iter().position(|f| f == finalizer) else {
        return Ok(());
    };
    let path = format!("/metadata/finalizers/{index}");
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": path, "value": finalizer},
        {"op": "remove", "path": path},
    ]))?;
    let name = obj.meta().name.as_deref().ok_or(Error::Unnamed)?;
    api.patch(name, &PatchParams::default(), &Patch::<()>::Json(patch))
        .await?;
    Ok(())
}

/// Runs `cleanup` while `obj` is being deleted (releasing `name` once it is done), else adds
/// the finalizer `name` if missing (that write triggers the next pass) or runs `apply`.
pub async fn reconcile_with<K, A, AF, C, CF>(
    api: &Api<K>,
    name: &str,
    obj: Arc<K>,
    apply: A,
    cleanup: C,
) -> Result<Action>
where
    K: Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
    A: FnOnce(Arc<K>) -> AF,
    AF: Future<Output = Result<Action>>,
    C: FnOnce(Arc<K>) -> CF,
    CF: Future<Output = Result<Cleanup>>,
{
    if is_finalizing(obj.as_ref(), name) {
        return match cleanup(obj.clone()).await? {
            Cleanup::Done => release(api, obj.as_ref(), name)
                .await
                .map(|()| Action::await_change()),
            Cleanup::Wait(after) => Ok(Action::requeue(after)),
        };
    }
    finalizer(api, name, obj, |event| async move {
        match event {
            Event::Apply(obj) => apply(obj).await,
            // Handled above: an object being deleted with the finalizer never gets here.
            Event::Cleanup(_) => Ok(Action::await_change()),
        }
    })
    .await
    .map_err(|err| match err {
        kube::runtime::finalizer::Error::ApplyFailed(e)
        | kube::runtime::finalizer::Error::CleanupFailed(e) => e,
        other => Error::Finalizer(other.to_string()),
    })
}
