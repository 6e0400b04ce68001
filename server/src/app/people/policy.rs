//! The tenant's content policy: read by every send, edit and name change, kept compiled for a
//! few seconds per instance so a send costs no extra query; changed by administrators.

use super::App;
use crate::app::auth::Principal;
use crate::app::{AppError, AppResult, ErrorCode};
use crate::domain::TenantRetention;
use crate::domain::content_policy::{ContentPolicy, PolicyRules, Verdict};
use crate::domain::{ClientInfo, Tenant, TenantId, TenantRole};
use crate::ports::{AccountRules, AccountRulesChange, RetentionChange, SettingsChange};

/// A tenant's settings as its administrators see them.
#[derive(Debug, Clone)]
pub struct TenantSettings {
    /// The content policy.
    pub content: PolicyRules,
    /// The rules about accounts (and what notifications show).
    pub accounts: AccountRules,
    /// How long messages are kept, and the tenant's legal hold.
    pub retention: TenantRetention,
}

/// A change of a tenant's settings: the parts given are replaced, the others stay.
#[derive(Debug, Clone, Default)]
pub struct SettingsRequest {
    /// A new content policy.
    pub content: Option<PolicyRules>,
    /// New rules about accounts.
    pub accounts: Option<AccountRulesChange>,
    /// New retention rules.
    pub retention: Option<RetentionChange>,
}
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long an instance uses a policy before reading it again: how long a change takes to
/// reach the other instances (the instance that made it applies it at once).
pub const POLICY_REFRESH: Duration = Duration::from_secs(5);

/// Compiled policies by tenant, each with when it was read.
#[derive(Debug, Default)]
pub struct PolicyCache {
    entries: Mutex<HashMap<TenantId, (Instant, Arc<ContentPolicy>)>>,
}

impl PolicyCache {
    fn fresh(&self, tenant: &TenantId) -> Option<Arc<ContentPolicy>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(tenant)
            .filter(|(read, _)| read.elapsed() < POLICY_REFRESH)
            .map(|(_, policy)| Arc::clone(policy))
    }

    fn keep(&self, tenant: &TenantId, policy: Arc<ContentPolicy>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.insert(tenant.clone(), (Instant::now(), policy));
    }
}

impl App {
    async fn content_policy(&self, tenant: &TenantId) -> AppResult<Arc<ContentPolicy>> {
        if let Some(policy) = self.policies.fresh(tenant) {
            return Ok(policy);
        }
        let rules = self.store.content_rules(tenant).await?.unwrap_or_default();
        // Stored rules were checked when they were written; should they no longer compile
        // (a newer regex crate), the tenant goes unfiltered rather than unable to chat.
        let policy = ContentPolicy::compile(rules).unwrap_or_else(|e| {
            tracing::error!(%tenant, error = %e, "stored content policy does not compile");
            ContentPolicy::default()
        });
        let policy = Arc::new(policy);
        self.policies.keep(tenant, Arc::clone(&policy));
        Ok(policy)
    }

    /// `text` as the tenant's policy lets it through: as it is, masked, or refused with 422
    /// `content_blocked` naming `field`.
    pub(crate) async fn screen(
        &self,
        tenant: &TenantId,
        field: &'static str,
        text: String,
    ) -> AppResult<String> {
        match self.content_policy(tenant).await?.check(&text) {
            Verdict::Clean => Ok(text),
            Verdict::Masked(masked) => Ok(masked),
            Verdict::Blocked => Err(AppError {
                field: Some(field),
                ..AppError::new(
                    ErrorCode::ContentBlocked,
                    format!("{field}: this text is not allowed by the tenant's content policy"),
                )
            }),
        }
    }

    /// The tenant's settings: the content policy, the rules about accounts, retention.
    /// Administrators.
    #[tracing::instrument(name = "tenant_settings", skip_all, fields(tenant = %tenant.id))]
    pub async fn tenant_settings(
        &self,
        tenant: &Tenant,
        principal: &Principal,
    ) -> AppResult<TenantSettings> {
        self.administrator(tenant, principal, TenantRole::Admin)
            .await?;
        self.settings_now(&tenant.id).await
    }

    async fn settings_now(&self, tenant: &TenantId) -> AppResult<TenantSettings> {
        Ok(TenantSettings {
            content: self.store.content_rules(tenant).await?.unwrap_or_default(),
            accounts: self.store.account_rules(tenant).await?,
            retention: self.store.retention_rules(tenant).await?,
        })
    }

    /// Changes the parts of the tenant's settings given, in one transaction with one audit
    /// entry; returns the settings as they now are. Administrators.
    #[tracing::instrument(name = "change_tenant_settings", skip_all, fields(tenant = %tenant.id))]
    pub async fn change_tenant_settings(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        request: SettingsRequest,
        client: &ClientInfo,
    ) -> AppResult<TenantSettings> {
        let SettingsRequest {
            content,
            accounts,
            retention,
        } = request;
        let actor = self
            .administrator(tenant, principal, TenantRole::Admin)
            .await?;
        let policy = content.map(ContentPolicy::compile).transpose()?;
        let mut detail = json!({});
        if let Some(rules) = policy.as_ref().map(ContentPolicy::rules) {
            detail["contentPolicy"] = json!({ "mode": rules.mode.as_str(),
                "words": rules.words.len(), "patterns": rules.patterns.len() });
        }
        if let Some(rules) = accounts {
            if let Some(deleted) = rules.deleted_messages {
                detail["deletedUserMessages"] = json!(deleted.as_str());
            }
            if let Some(registration) = rules.registration {
                detail["registration"] = json!(registration.as_str());
            }
            if let Some(previews) = rules.push_previews {
                detail["pushPreviews"] = json!(previews);
            }
        }
        if let Some(rules) = retention {
            if let Some(max) = rules.max_seconds {
                detail["retentionSeconds"] = json!(max);
            }
            if let Some(hold) = rules.legal_hold {
                detail["legalHold"] = json!(hold);
            }
        }
        let audit = self.audit_action(
            "settings.changed",
            Some(actor.id),
            format!("tenant:{}", tenant.id),
            Some(client),
            detail,
        );
        let change = SettingsChange {
            content: policy.as_ref().map(|p| p.rules().clone()),
            accounts,
            retention,
        };
        self.store
            .change_settings(&tenant.id, &change, &audit)
            .await?;
        if let Some(policy) = policy {
            self.policies.keep(&tenant.id, Arc::new(policy));
        }
        self.settings_now(&tenant.id).await
    }
}
