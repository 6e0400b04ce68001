//! The tenant's messages index (`chemchat-<tenant>-messages`) as a [`Provisioner`]: condition
//! `SearchIndexReady`.

use std::time::Duration;

use async_trait::async_trait;
use chemchat_backends::Deleted;
use chemchat_backends::search_index::{IndexAdmin, IndexOutcome};
use chemchat_crds::contract::messages_index;
use chemchat_crds::tenant::DeletionPolicy;

use super::{CleanupOutcome, ProvisionStatus, Provisioner, Target};
use crate::error::{Error, Result};
use crate::observe::types::SEARCH_INDEX_READY;
use crate::plan::ResolvedSearch;

/// The search index through the Elasticsearch/OpenSearch API. A client is built per call: it
/// is cheap, and the credentials Secret may have been rotated since the last reconcile.
#[derive(Debug)]
pub struct SearchIndex {
    timeout: Duration,
}

impl SearchIndex {
    /// Indexes through clients that give up on a request after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }

    fn admin(
        &self,
        search: &ResolvedSearch,
        target: &Target,
    ) -> chemchat_backends::Result<IndexAdmin> {
        IndexAdmin::new(&search.url, target.search_credentials.clone(), self.timeout)
    }
}

/// Shards and replicas as the API wants them; the CRD schema already forbids negatives.
fn counts(search: &ResolvedSearch) -> chemchat_backends::Result<(u32, u32)> {
    let count = |what, n: i32| {
        u32::try_from(n).map_err(|_| chemchat_backends::Error::Invalid {
            what,
            detail: format!("{n} is negative"),
        })
    };
    Ok((
        count("shards", search.shards)?,
        count("replicas", search.replicas)?,
    ))
}

#[async_trait]
impl Provisioner for SearchIndex {
    fn name(&self) -> &'static str {
        "search"
    }

    async fn ensure(&self, target: &Target) -> Option<ProvisionStatus> {
        let Some(search) = &target.search else {
            return Some(ProvisionStatus::ready(
                SEARCH_INDEX_READY,
                "NotConfigured",
                "the cluster has no spec.search: the server uses its built-in SQL search"
                    .to_owned(),
            ));
        };
        let index = messages_index(&target.tenant);
        let ensured = async {
            let (shards, replicas) = counts(search)?;
            let admin = self.admin(search, target)?;
            let outcome = admin.ensure(&index, shards, replicas).await?;
            Ok::<_, chemchat_backends::Error>((admin, outcome, shards, replicas))
        };
        let (admin, outcome, shards, replicas) = match ensured.await {
            Ok(done) => done,
            Err(err) => return Some(ProvisionStatus::failed(SEARCH_INDEX_READY, &err)),
        };
        // Shards are fixed when the index is created, so the message names the index and the
        // server only: an existing index is left as it is.
        let mut status = ProvisionStatus::ready(
            SEARCH_INDEX_READY,
            "Provisioned",
            format!("index {index} on {}", admin.address()),
        );
        if outcome == IndexOutcome::Created {
            status.changed = Some((
                "IndexCreated",
                format!("created index {index}: {shards} shards, {replicas} replicas"),
            ));
        }
        Some(status)
    }

    async fn cleanup(&self, target: &Target, policy: DeletionPolicy) -> Result<CleanupOutcome> {
        let Some(search) = &target.search else {
            return Ok(CleanupOutcome::NotConfigured);
        };
        let index = messages_index(&target.tenant);
        if policy == DeletionPolicy::Retain {
            return Ok(CleanupOutcome::Retained(format!("index {index}")));
        }
        let deleted = match self.admin(search, target) {
            Ok(admin) => admin.delete(&index).await,
            Err(err) => Err(err),
        };
        match deleted {
            Ok(Deleted::Deleted) => Ok(CleanupOutcome::Deleted(format!("index {index}"))),
            Ok(Deleted::AlreadyGone) => Ok(CleanupOutcome::AlreadyGone(format!("index {index}"))),
            Err(err) => Err(Error::Cleanup {
                provisioner: "search",
                message: err.to_string(),
            }),
        }
    }
}
