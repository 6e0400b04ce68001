//! A tenant's cleanup, run while it is being deleted and carries the finalizer.
//!
//! Under `deletionPolicy: Delete`, in order: the namespace (which stops the tenant's servers),
//! then — once the namespace is gone, so nothing writes behind the cleanup — the PostgreSQL
//! rows (the purge Job), the topic and the index. Under `Retain` no data is deleted and an
//! Event says where the data is. Under either, the tenant's own S3 user (a credential, not
//! data) is deleted last. The annotation `chemchat.io/skip-cleanup: "true"` releases a
//! tenant whose backends are gone for good, deleting nothing and saying what may be left.

use std::time::Duration;

use chemchat_crds::tenant::{DeletionPolicy, TenantPhase};
use chemchat_crds::{ChemChatCluster, ChemChatTenant, SKIP_CLEANUP_ANNOTATION};
use kube::api::Api;
use kube::{Resource, ResourceExt};
use tracing::warn;

use crate::conditions;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::finalizers::Cleanup;
use crate::observe;
use crate::plan::resolve_backends;
use crate::provision::{CleanupOutcome, S3UserTarget, Target};
use crate::purge::{PurgeStep, purge_rows};
use crate::tenant::write_status;

/// How soon a cleanup that waits (a terminating namespace, a running purge Job) looks again.
const POLL: Duration = Duration::from_secs(10);

fn skips_cleanup(tenant: &ChemChatTenant) -> bool {
    tenant
        .annotations()
        .get(SKIP_CLEANUP_ANNOTATION)
        .is_some_and(|v| v == "true")
}

/// One cleanup pass; [`Cleanup::Done`] releases the finalizer.
pub async fn cleanup(tenant: &ChemChatTenant, ctx: &Context) -> Result<Cleanup> {
    let cluster_ref = &tenant.spec.cluster_ref;
    let cluster = Api::<ChemChatCluster>::namespaced(ctx.client.clone(), &cluster_ref.namespace)
        .get_opt(&cluster_ref.name)
        .await?;
    if skips_cleanup(tenant) {
        let mut note = format!(
            "annotation {SKIP_CLEANUP_ANNOTATION}=true: released without cleanup; {}",
            where_the_data_is(tenant, cluster.as_ref())
        );
        if let Some(storage) = cluster.as_ref().and_then(crate::s3_user::per_tenant) {
            note.push_str(&format!(
                ", IAM user {} (path /chemchat/)",
                crate::build::s3_user_name(storage, &tenant.name_any())
            ));
        }
        set_phase(tenant, ctx, "CleanupSkipped", note.clone()).await?;
        ctx.event(tenant, true, "CleanupSkipped", note).await;
        return Ok(Cleanup::Done);
    }
    match clean(tenant, cluster.as_ref(), ctx).await {
        Ok(Progress::Done(report)) => {
            ctx.event(tenant, false, "CleanedUp", report.join("; "))
                .await;
            Ok(Cleanup::Done)
        }
        Ok(Progress::Waiting(message)) => {
            set_phase(tenant, ctx, "CleanupInProgress", message).await?;
            Ok(Cleanup::Wait(POLL))
        }
        Err(err) => {
            let message = format!(
                "{err}; if the backend is gone for good, annotate the tenant with \
                 {SKIP_CLEANUP_ANNOTATION}=true to release it"
            );
            set_phase(tenant, ctx, "CleanupFailed", message.clone()).await?;
            ctx.event(tenant, true, "CleanupFailed", message).await;
            Err(err)
        }
    }
}

enum Progress {
    Done(Vec<String>),
    Waiting(String),
}

async fn clean(
    tenant: &ChemChatTenant,
    cluster: Option<&ChemChatCluster>,
    ctx: &Context,
) -> Result<Progress> {
    let policy = tenant.spec.deletion_policy;
    let target = target(tenant, cluster, ctx).await?;
    let mut report = Vec::new();
    let (namespace, backends) = ctx.provisioners.split_at(1.min(ctx.provisioners.len()));
    for provisioner in namespace {
        report.extend(describe(
            provisioner.name(),
            provisioner.cleanup(&target, policy).await?,
        ));
    }
    match (policy, cluster) {
        (DeletionPolicy::Retain, _) => report.push(format!(
            "rows: retained ({})",
            where_the_data_is(tenant, cluster)
        )),
        (DeletionPolicy::Delete, None) => {
            return Err(Error::Cleanup {
                provisioner: "rows",
                message: format!(
                    "ChemChatCluster {}/{} is gone: the database holding the tenant's rows is \
                     unknown, they cannot be purged",
                    tenant.spec.cluster_ref.namespace, tenant.spec.cluster_ref.name
                ),
            });
        }
        (DeletionPolicy::Delete, Some(cluster)) => {
            match purge_rows(&ctx.client, tenant, cluster).await? {
                PurgeStep::Done(what) => report.push(format!("rows: deleted {what}")),
                PurgeStep::Waiting(message) => return Ok(Progress::Waiting(message)),
                PurgeStep::Failed(message) => {
                    return Err(Error::Cleanup {
                        provisioner: "rows",
                        message,
                    });
                }
            }
        }
    }
    for provisioner in backends {
        report.extend(describe(
            provisioner.name(),
            provisioner.cleanup(&target, policy).await?,
        ));
    }
    Ok(Progress::Done(report))
}

fn describe(name: &str, outcome: CleanupOutcome) -> Option<String> {
    match outcome {
        CleanupOutcome::Deleted(what) => Some(format!("{name}: deleted {what}")),
        CleanupOutcome::Retained(what) => Some(format!("{name}: retained ({what})")),
        CleanupOutcome::AlreadyGone(what) => Some(format!("{name}: {what} already gone")),
        CleanupOutcome::NotConfigured => None,
    }
}

/// Where a tenant's data lives, for the Events of `Retain` and of a skipped cleanup.
fn where_the_data_is(tenant: &ChemChatTenant, cluster: Option<&ChemChatCluster>) -> String {
    let name = tenant.name_any();
    let Some(cluster) = cluster else {
        return format!(
            "rows of tenant {name} in the database of the deleted ChemChatCluster {}/{}",
            tenant.spec.cluster_ref.namespace, tenant.spec.cluster_ref.name
        );
    };
    let db = &cluster.spec.postgres.url_secret_ref;
    let mut places = vec![format!(
        "rows with tenant_id {name} in the PostgreSQL database of Secret {}/{} key {}",
        cluster.namespace().unwrap_or_default(),
        db.name,
        db.key
    )];
    if let Some(kafka) = &cluster.spec.kafka {
        places.push(format!(
            "topic {} on {}",
            chemchat_crds::contract::events_topic(&name),
            kafka.bootstrap_servers
        ));
    }
    if let Some(search) = &cluster.spec.search {
        places.push(format!(
            "index {} on {}",
            chemchat_crds::contract::messages_index(&name),
            search.url
        ));
    }
    if let Some(storage) = &cluster.spec.object_storage {
        places.push(format!(
            "media objects under {name}/ in bucket {}",
            storage.bucket
        ));
    }
    places.join(", ")
}

/// What the provisioners clean. Search credentials are read only when something will be
/// deleted.
async fn target(
    tenant: &ChemChatTenant,
    cluster: Option<&ChemChatCluster>,
    ctx: &Context,
) -> Result<Target> {
    let mut target = Target {
        tenant: tenant.name_any(),
        ..Target::default()
    };
    let Some(cluster) = cluster else {
        warn!(tenant = %target.tenant, cluster = %tenant.spec.cluster_ref.name, "cluster gone: no topic or index to clean up");
        return Ok(target);
    };
    (target.kafka, target.search) = resolve_backends(tenant, cluster);
    if tenant.spec.deletion_policy == DeletionPolicy::Delete && target.search.is_some() {
        target.search_credentials =
            crate::secrets::search_credentials(&ctx.client, cluster).await?;
    }
    // The S3 user goes under either policy: a credential is not data.
    if let Some(storage) = crate::s3_user::per_tenant(cluster) {
        target.s3_user = Some(S3UserTarget {
            storage: storage.clone(),
            cluster_key: crate::secrets::s3_credentials(&ctx.client, cluster).await?,
        });
    }
    Ok(target)
}

/// Writes phase `Deleting` with a Ready condition saying what the cleanup is at.
async fn set_phase(
    tenant: &ChemChatTenant,
    ctx: &Context,
    reason: &str,
    message: String,
) -> Result<()> {
    let previous = tenant.status.as_ref();
    let status = observe::blocked_status(
        previous,
        tenant.meta().generation.unwrap_or(0),
        TenantPhase::Deleting,
        reason,
        message,
        &conditions::now(),
    );
    write_status(tenant, previous, status, ctx).await
}
