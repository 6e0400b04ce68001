//! The people part of the SQL store: the directory, profiles, roles, account status and the
//! audit trail's queries.

pub(super) mod accounts;
mod audit_page;
mod directory;
mod erasure;
pub(super) mod invites;
mod profile;
mod recovery;
pub(super) mod reports;
mod settings;
mod usage;

use super::SqlStore;
use crate::domain::content_policy::PolicyRules;
use crate::domain::{
    AccountStatus, InviteId, MediaId, MessageId, ReportId, SessionId, TenantId, TenantRole, UserId,
};
use crate::ports::chat::Message;
use crate::ports::{
    AccountChange, AccountErasure, AccountRules, AuditEntry, AuditQuery, ErasureProgress, Invite,
    MediaItem, ModerationStore, NewAccountToken, NewInvite, NewReport, PeopleStore, ProfileChange,
    ProfileUpdate, PublicUser, Report, ReportAction, ReportClosing, ReportFiling, ReportResolution,
    ReportStatus, SettingsChange, StoreResult, TenantUsage, UserQuery,
};
use async_trait::async_trait;

#[async_trait]
impl PeopleStore for SqlStore {
    async fn users_page(
        &self,
        tenant: &TenantId,
        query: &UserQuery,
    ) -> StoreResult<Vec<PublicUser>> {
        directory::page(self, tenant, query).await
    }

    async fn users_by_ids(
        &self,
        tenant: &TenantId,
        ids: &[UserId],
    ) -> StoreResult<Vec<PublicUser>> {
        directory::by_ids(self, tenant, ids).await
    }

    async fn update_profile(
        &self,
        tenant: &TenantId,
        user: UserId,
        change: &ProfileChange,
    ) -> StoreResult<ProfileUpdate> {
        profile::update(self, tenant, user, change).await
    }

    async fn change_password(
        &self,
        tenant: &TenantId,
        user: UserId,
        password_hash: &str,
        keep: Option<SessionId>,
        audit: &AuditEntry,
    ) -> StoreResult<bool> {
        accounts::change_password(self, tenant, user, password_hash, keep, audit).await
    }

    async fn set_tenant_role(
        &self,
        tenant: &TenantId,
        user: UserId,
        role: TenantRole,
        audit: &AuditEntry,
    ) -> StoreResult<AccountChange> {
        accounts::set_role(self, tenant, user, role, audit).await
    }

    async fn set_account_status(
        &self,
        tenant: &TenantId,
        user: UserId,
        status: AccountStatus,
        audit: &AuditEntry,
    ) -> StoreResult<AccountChange> {
        accounts::set_status(self, tenant, user, status, audit).await
    }

    async fn reset_mfa(
        &self,
        tenant: &TenantId,
        user: UserId,
        audit: &AuditEntry,
    ) -> StoreResult<AccountChange> {
        accounts::reset_mfa(self, tenant, user, audit).await
    }

    async fn tenant_usage(&self, tenant: &TenantId, day: i64) -> StoreResult<TenantUsage> {
        usage::read(self, tenant, day).await
    }

    async fn content_rules(&self, tenant: &TenantId) -> StoreResult<Option<PolicyRules>> {
        settings::content_rules(self, tenant).await
    }

    async fn change_settings(
        &self,
        tenant: &TenantId,
        change: &SettingsChange,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        settings::change(self, tenant, change, audit).await
    }

    async fn delete_account(
        &self,
        tenant: &TenantId,
        user: UserId,
        erasure: &AccountErasure,
    ) -> StoreResult<AccountChange> {
        erasure::delete_account(self, tenant, user, erasure).await
    }

    async fn next_erasure(&self) -> StoreResult<Option<(TenantId, UserId)>> {
        erasure::next_erasure(self).await
    }

    async fn erase_messages(
        &self,
        tenant: &TenantId,
        user: UserId,
        limit: u32,
        at_ms: i64,
    ) -> StoreResult<ErasureProgress> {
        erasure::erase_messages(self, tenant, user, limit, at_ms).await
    }

    async fn messages_sent_by(
        &self,
        tenant: &TenantId,
        user: UserId,
        after: Option<(i64, MessageId)>,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        erasure::messages_sent_by(self, tenant, user, after, limit).await
    }

    async fn media_uploaded_by(
        &self,
        tenant: &TenantId,
        user: UserId,
        after: Option<(i64, MediaId)>,
        limit: u32,
    ) -> StoreResult<Vec<MediaItem>> {
        erasure::media_uploaded_by(self, tenant, user, after, limit).await
    }

    async fn issue_account_token(
        &self,
        tenant: &TenantId,
        token: &NewAccountToken,
    ) -> StoreResult<()> {
        recovery::issue(self, tenant, token).await
    }

    async fn reset_password(
        &self,
        tenant: &TenantId,
        token_hash: &str,
        password_hash: &str,
        audit: &AuditEntry,
    ) -> StoreResult<Option<UserId>> {
        recovery::reset_password(self, tenant, token_hash, password_hash, audit).await
    }

    async fn verify_email(
        &self,
        tenant: &TenantId,
        token_hash: &str,
        audit: &AuditEntry,
    ) -> StoreResult<Option<UserId>> {
        recovery::verify_email(self, tenant, token_hash, audit).await
    }

    async fn account_rules(&self, tenant: &TenantId) -> StoreResult<AccountRules> {
        settings::account_rules(self, tenant).await
    }

    async fn create_invite(
        &self,
        tenant: &TenantId,
        invite: &NewInvite,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        invites::create(self, tenant, invite, audit).await
    }

    async fn invites_page(
        &self,
        tenant: &TenantId,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> StoreResult<Vec<Invite>> {
        invites::page(self, tenant, before, limit).await
    }

    async fn revoke_invite(
        &self,
        tenant: &TenantId,
        id: InviteId,
        audit: &AuditEntry,
    ) -> StoreResult<Option<Invite>> {
        invites::revoke(self, tenant, id, audit).await
    }

    async fn audit_page(
        &self,
        tenant: &TenantId,
        query: &AuditQuery,
    ) -> StoreResult<Vec<AuditEntry>> {
        audit_page::page(self, tenant, query).await
    }
}

#[async_trait]
impl ModerationStore for SqlStore {
    async fn file_report(
        &self,
        tenant: &TenantId,
        report: &NewReport,
        audit: &AuditEntry,
    ) -> StoreResult<ReportFiling> {
        reports::file(self, tenant, report, audit).await
    }

    async fn report(&self, tenant: &TenantId, id: ReportId) -> StoreResult<Option<Report>> {
        reports::get(self, tenant, id).await
    }

    async fn reports_page(
        &self,
        tenant: &TenantId,
        status: Option<ReportStatus>,
        after: Option<(i64, String)>,
        limit: u32,
    ) -> StoreResult<Vec<Report>> {
        reports::page(self, tenant, status, after, limit).await
    }

    async fn resolve_report(
        &self,
        tenant: &TenantId,
        action: ReportAction<'_>,
        closing: &ReportClosing,
    ) -> StoreResult<ReportResolution> {
        super::moderation::resolve(self, tenant, action, closing).await
    }
}
