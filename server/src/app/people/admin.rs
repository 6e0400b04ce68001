//! The tenant's administration: accounts listed and acted on, the audit trail read. Roles
//! decide who may do what to whom (`domain::TenantRole`); every action names a reason and
//! lands in the audit trail with the client it came from.

use super::{App, Page, UserCard};
use crate::app::auth::Principal;
use crate::app::{AppError, AppResult, ErrorCode};
use crate::domain::{
    AccountStatus, Action, ClientInfo, NamePrefix, Reason, Subject, Tenant, TenantRole, UserId,
};
use crate::ports::{
    AccountChange, AccountNotice, AuditEntry, AuditQuery, Revocation, SessionScope, StoredUser,
    TenantUsage, UserQuery,
};
use serde_json::json;

/// What an administrator or moderator does to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountAction {
    /// Give the account another tenant role.
    SetRole(TenantRole),
    /// Refuse the account until a time (Unix milliseconds): sessions end, sockets close.
    Suspend {
        /// When it ends.
        until_ms: i64,
    },
    /// Refuse the account for good: sessions end, sockets close.
    Ban,
    /// Lift a suspension or a ban.
    Reinstate,
    /// Turn MFA off (the owner lost the device): every session ends.
    ResetMfa,
    /// Warn the account's holder: recorded, listed to them, mailed when the server sends mail.
    Warn,
}

impl AccountAction {
    /// The account status the action sets, if it sets one.
    pub(super) fn status(self) -> Option<AccountStatus> {
        match self {
            AccountAction::Suspend { until_ms } => Some(AccountStatus::Suspended { until_ms }),
            AccountAction::Ban => Some(AccountStatus::Banned),
            AccountAction::Reinstate => Some(AccountStatus::Active),
            AccountAction::SetRole(_) | AccountAction::ResetMfa | AccountAction::Warn => None,
        }
    }

    fn audit_name(self) -> &'static str {
        match self {
            AccountAction::SetRole(_) => "user.role_changed",
            AccountAction::Suspend { .. } => "user.suspended",
            AccountAction::Ban => "user.banned",
            AccountAction::Reinstate => "user.reinstated",
            AccountAction::ResetMfa => "user.mfa_reset",
            AccountAction::Warn => "user.warned",
        }
    }

    /// Whether `actor` may do this to an account holding `target`.
    fn allowed(self, actor: TenantRole, target: TenantRole) -> bool {
        match self {
            AccountAction::SetRole(to) => actor.may_assign(target, to),
            AccountAction::Suspend { .. } | AccountAction::Reinstate | AccountAction::Warn => {
                actor.may_act_on(target)
            }
            AccountAction::Ban | AccountAction::ResetMfa => {
                actor.administers() && actor.may_act_on(target)
            }
        }
    }
}

/// An account action checked and recorded, ready for the store.
pub(super) struct AccountPlan {
    /// The account acted on, as it was.
    pub(super) subject: StoredUser,
    /// What is done to it.
    pub(super) action: AccountAction,
    /// The action's audit entry.
    pub(super) audit: AuditEntry,
}

/// Why an account change was refused when it would leave the tenant without an owner.
pub(super) const LAST_OWNER: &str =
    "the tenant's last owner cannot be demoted, suspended or banned";

/// Which audit entries to read.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this actor.
    pub actor: Option<UserId>,
    /// Only this action, or a family of them when it ends in `.`.
    pub action: Option<String>,
    /// Only this target.
    pub target: Option<String>,
    /// From this time, Unix milliseconds.
    pub from_ms: Option<i64>,
    /// Before this time, Unix milliseconds.
    pub to_ms: Option<i64>,
    /// The cursor of the previous page.
    pub cursor: Option<String>,
    /// Page size (1–100).
    pub limit: u32,
}

impl App {
    /// The tenant's accounts for moderators and administrators, filtered by role, status and
    /// name prefix, in username order.
    #[tracing::instrument(name = "admin_users", skip_all, fields(tenant = %tenant.id))]
    pub async fn admin_users(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        filter: (Option<NamePrefix>, Option<TenantRole>, Option<&'static str>),
        after: Option<String>,
        limit: u32,
    ) -> AppResult<Page<UserCard>> {
        let actor = self
            .administrator(tenant, principal, TenantRole::Moderator)
            .await?;
        let (prefix, role, status) = filter;
        let limit = limit.clamp(1, super::DIRECTORY_PAGE_MAX);
        let query = UserQuery {
            prefix: prefix.map(|p| p.as_str().to_owned()),
            role,
            status,
            usable_only: false,
            after,
            limit: limit + 1,
            now_ms: self.clock.now_ms(),
        };
        let users = self.store.users_page(&tenant.id, &query).await?;
        Ok(
            Page::from_probe(users, limit, |u| u.username.clone())
                .map(|u| self.card(u, actor.role)),
        )
    }

    /// Acts on an account. Suspensions, bans and MFA resets end every session of the account
    /// and close its sockets on every instance at once.
    #[tracing::instrument(name = "act_on_account", skip_all, fields(tenant = %tenant.id))]
    pub async fn act_on_account(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        target: UserId,
        action: AccountAction,
        reason: &Reason,
        client: &ClientInfo,
    ) -> AppResult<UserCard> {
        let actor = self
            .administrator(tenant, principal, TenantRole::Moderator)
            .await?;
        let plan = self
            .plan_account_action(tenant, &actor, target, action, reason, client)
            .await?;
        let outcome = self.apply(tenant, target, action, &plan.audit).await?;
        changed(outcome, LAST_OWNER)?;
        self.announce_account_action(tenant, &plan, reason);
        // The account as it is now, read directly: the actor was checked and charged above.
        let changed = self.store.users_by_ids(&tenant.id, &[target]).await?;
        changed
            .into_iter()
            .next()
            .map(|user| self.card(user, actor.role))
            .ok_or_else(|| AppError::new(ErrorCode::UserNotFound, "user does not exist"))
    }

    /// Checks that `actor` may take `action` on `target`'s account and writes its record.
    pub(super) async fn plan_account_action(
        &self,
        tenant: &Tenant,
        actor: &StoredUser,
        target: UserId,
        action: AccountAction,
        reason: &Reason,
        client: &ClientInfo,
    ) -> AppResult<AccountPlan> {
        let subject = self
            .other_account(
                tenant,
                actor,
                target,
                "you cannot act on your own account here",
            )
            .await?;
        if !action.allowed(actor.role, subject.role) {
            return Err(AppError::new(
                ErrorCode::Forbidden,
                format!(
                    "a tenant {} cannot do this to a tenant {}",
                    actor.role, subject.role
                ),
            ));
        }
        if let AccountAction::Suspend { until_ms } = action
            && until_ms <= self.clock.now_ms()
        {
            return Err(AppError {
                field: Some("until"),
                ..AppError::new(ErrorCode::ValidationFailed, "until: must be in the future")
            });
        }
        let audit = self.audit_action(
            action.audit_name(),
            Some(actor.id),
            format!("user:{target}"),
            Some(client),
            audit_detail(action, &subject, reason.as_str()),
        );
        Ok(AccountPlan {
            subject,
            action,
            audit,
        })
    }

    /// After an account action landed: the account's other devices learn at once what changed
    /// for them, and its sessions end where the action ends them.
    pub(super) fn announce_account_action(
        &self,
        tenant: &Tenant,
        plan: &AccountPlan,
        reason: &Reason,
    ) {
        let target = plan.subject.id;
        match plan.action {
            AccountAction::SetRole(role) => self.revocations.account_changed(
                &tenant.id,
                target,
                &AccountNotice::RoleChanged { role },
            ),
            AccountAction::Warn => {
                self.mail_warning(tenant, &plan.subject, reason);
                let notice = AccountNotice::Warned {
                    reason: reason.as_str().to_owned(),
                    at_ms: plan.audit.at_ms,
                };
                self.revocations
                    .account_changed(&tenant.id, target, &notice);
            }
            _ => {}
        }
        if let Some(why) = ends_sessions(plan.action) {
            self.revocations.sessions_ended(&Revocation {
                tenant: tenant.id.clone(),
                user: target,
                scope: SessionScope::All,
                reason: why.into(),
            });
        }
    }

    /// The store's part of an account action.
    async fn apply(
        &self,
        tenant: &Tenant,
        target: UserId,
        action: AccountAction,
        audit: &AuditEntry,
    ) -> AppResult<AccountChange> {
        let store = &self.store;
        Ok(match action {
            AccountAction::SetRole(role) => {
                store
                    .set_tenant_role(&tenant.id, target, role, audit)
                    .await?
            }
            AccountAction::Suspend { .. } | AccountAction::Ban | AccountAction::Reinstate => {
                let status = action.status().unwrap_or(AccountStatus::Active);
                store
                    .set_account_status(&tenant.id, target, status, audit)
                    .await?
            }
            AccountAction::ResetMfa => store.reset_mfa(&tenant.id, target, audit).await?,
            // A warning changes nothing but the record.
            AccountAction::Warn => {
                store.append_audit(&tenant.id, audit).await?;
                AccountChange::Changed
            }
        })
    }

    /// What the tenant uses (accounts, conversations, today's messages, stored bytes), for
    /// administrators; each figure goes with its quota in `tenant.quotas`.
    #[tracing::instrument(name = "tenant_usage", skip_all, fields(tenant = %tenant.id))]
    pub async fn tenant_usage(
        &self,
        tenant: &Tenant,
        principal: &Principal,
    ) -> AppResult<TenantUsage> {
        self.administrator(tenant, principal, TenantRole::Admin)
            .await?;
        let day = self.clock.now_ms().div_euclid(86_400_000);
        Ok(self.store.tenant_usage(&tenant.id, day).await?)
    }

    /// A page of the tenant's audit trail, newest first, for administrators.
    #[tracing::instrument(name = "audit_log", skip_all, fields(tenant = %tenant.id))]
    pub async fn audit_log(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        filter: AuditFilter,
    ) -> AppResult<Page<AuditEntry>> {
        self.administrator(tenant, principal, TenantRole::Admin)
            .await?;
        let before = filter.cursor.as_deref().map(parse_cursor).transpose()?;
        let limit = filter.limit.clamp(1, 100);
        let query = AuditQuery {
            actor: filter.actor,
            action: filter.action,
            target: filter.target,
            from_ms: filter.from_ms,
            to_ms: filter.to_ms,
            before,
            limit: limit + 1,
        };
        let entries = self.store.audit_page(&tenant.id, &query).await?;
        Ok(Page::from_probe(entries, limit, |e| {
            format!("{}_{}", e.at_ms, e.id)
        }))
    }

    /// The account an administrator acts on: someone else's (`own` says where to go instead),
    /// existing and not deleted.
    pub(super) async fn other_account(
        &self,
        tenant: &Tenant,
        actor: &StoredUser,
        target: UserId,
        own: &'static str,
    ) -> AppResult<StoredUser> {
        if target == actor.id {
            return Err(AppError::new(ErrorCode::Forbidden, own));
        }
        self.store
            .user(&tenant.id, target)
            .await?
            .filter(|u| !u.deleted)
            .ok_or_else(|| AppError::new(ErrorCode::UserNotFound, "user does not exist"))
    }

    /// The caller, who must hold `at_least`, charged one admin action.
    pub(crate) async fn administrator(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        at_least: TenantRole,
    ) -> AppResult<StoredUser> {
        let actor = self.acting_as(principal, at_least).await?;
        let subjects = [Subject::User(&tenant.id, principal.user)];
        self.charge(tenant.tier, Action::Administer, &subjects)
            .await?;
        Ok(actor)
    }
}

/// The answer to a change of an account: done, or why not (`last_owner` says what the last
/// owner cannot do).
pub(super) fn changed(outcome: AccountChange, last_owner: &'static str) -> AppResult<()> {
    match outcome {
        AccountChange::Changed => Ok(()),
        AccountChange::NotFound => Err(AppError::new(
            ErrorCode::UserNotFound,
            "user does not exist",
        )),
        AccountChange::LastOwner => Err(AppError::new(ErrorCode::LastOwner, last_owner)),
    }
}

/// Why the account's sessions end, for the close frame; `None` when they do not.
fn ends_sessions(action: AccountAction) -> Option<&'static str> {
    match action {
        AccountAction::Suspend { .. } => Some("account suspended"),
        AccountAction::Ban => Some("account banned"),
        AccountAction::ResetMfa => Some("session ended: MFA was reset by an administrator"),
        AccountAction::SetRole(_) | AccountAction::Reinstate | AccountAction::Warn => None,
    }
}

fn audit_detail(action: AccountAction, subject: &StoredUser, reason: &str) -> serde_json::Value {
    let mut detail = json!({ "reason": reason, "username": subject.username });
    match action {
        AccountAction::SetRole(to) => {
            detail["from"] = json!(subject.role.as_str());
            detail["to"] = json!(to.as_str());
        }
        AccountAction::Suspend { until_ms } => {
            detail["until"] = json!(crate::ports::chat::rfc3339(until_ms));
        }
        _ => {}
    }
    detail
}

/// A `<time>_<uuid>` cursor this server handed out.
pub(super) fn parse_cursor(raw: &str) -> AppResult<(i64, String)> {
    let bad = || AppError {
        field: Some("cursor"),
        ..AppError::new(
            ErrorCode::InvalidQuery,
            "cursor: not one this server handed out",
        )
    };
    let (at, id) = raw.split_once('_').ok_or_else(bad)?;
    let at = at.parse().map_err(|_| bad())?;
    uuid::Uuid::try_parse(id).map_err(|_| bad())?;
    Ok((at, id.to_owned()))
}
