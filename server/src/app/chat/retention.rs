//! Retention: legal holds placed by administrators, and the sweeper that deletes expired
//! messages as tombstones — seq kept, so ordering stays gap-free; reactions, edit history,
//! search entries and attachment references go with the text; clients learn through
//! `message.deleted` and sync. Each batch is one transaction of at most [`BATCH`] messages,
//! found through the store's indexes of live messages by age, so a tenant with millions of
//! expired messages is worked off without stalling the database.

use crate::app::auth::Principal;
use crate::app::{App, AppError, AppResult, ErrorCode};
use crate::domain::{ClientInfo, ConversationId, Tenant, TenantRole};
use crate::ports::{Clock, Store};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Messages tombstoned per transaction at most.
pub const BATCH: u32 = 500;
/// Messages deleted by retention (counter).
pub const METRIC_EXPIRED: &str = "chemchat_retention_expired_total";

impl App {
    /// Places or lifts a legal hold on a conversation: while it stands, retention deletes
    /// nothing of it. Administrators; audited.
    #[tracing::instrument(name = "set_legal_hold", skip_all, fields(tenant = %tenant.id))]
    pub async fn set_legal_hold(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        conversation: ConversationId,
        hold: bool,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let actor = self
            .administrator(tenant, principal, TenantRole::Admin)
            .await?;
        let audit = self.audit_action(
            if hold {
                "conversation.legal_hold.placed"
            } else {
                "conversation.legal_hold.lifted"
            },
            Some(actor.id),
            format!("conversation:{conversation}"),
            Some(client),
            json!({}),
        );
        if !self
            .store
            .set_legal_hold(&tenant.id, conversation, hold, &audit)
            .await?
        {
            return Err(AppError::new(
                ErrorCode::ConversationNotFound,
                "no such conversation",
            ));
        }
        Ok(())
    }

    /// The retention sweeper of this app's store, looking every `every`; run it once per
    /// process.
    pub fn retention_sweeper(&self, every: Duration) -> RetentionSweeper {
        RetentionSweeper::new(Arc::clone(&self.store), Arc::clone(&self.clock), every)
    }
}

/// Deletes expired messages of every tenant with retention, batch by batch.
#[derive(Debug, Clone)]
pub struct RetentionSweeper {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    every: Duration,
}

impl RetentionSweeper {
    /// A sweeper of `store`'s expired messages, looking every `every`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, every: Duration) -> Self {
        Self {
            store,
            clock,
            every,
        }
    }

    /// Sweeps every `every` until cancelled.
    pub async fn run(self) {
        loop {
            if let Err(error) = self.sweep().await {
                tracing::warn!(%error, "retention: sweep failed");
            }
            tokio::time::sleep(self.every).await;
        }
    }

    /// One round: every tenant's expired messages, in batches, until none is left.
    pub async fn sweep(&self) -> anyhow::Result<u64> {
        let mut total = 0;
        for tenant in self.store.retention_tenants().await? {
            loop {
                let expired = self
                    .store
                    .expire_messages(&tenant, self.clock.now_ms(), BATCH)
                    .await?;
                metrics::counter!(METRIC_EXPIRED).increment(u64::from(expired));
                total += u64::from(expired);
                if expired < BATCH {
                    break;
                }
            }
        }
        Ok(total)
    }
}
