//! People: the directory, profiles, passwords, tenant roles, account status and the audit
//! trail. Every rule about who may see or change whom lives here.

mod admin;
mod bootstrap;
mod deletion;
mod directory;
mod eraser;
mod export;
mod invites;
mod policy;
mod profile;
mod recovery;
mod reports;
mod warnings;

pub use admin::{AccountAction, AuditFilter};
pub use bootstrap::grant_role;
pub use directory::DIRECTORY_PAGE_MAX;
pub use eraser::{AccountEraser, ERASE_BATCH, METRIC_ERASED};
pub use export::{AccountExport, EXPORT_PAGE};
pub use invites::InviteRequest;
pub use policy::{POLICY_REFRESH, PolicyCache, SettingsRequest, TenantSettings};
pub use profile::ProfileEdit;
pub use reports::ReportOutcome;
pub use warnings::Warning;

use super::auth::Principal;
use super::{App, AppError, AppResult, ErrorCode};
use crate::domain::{AccountStatus, TenantRole};
use crate::ports::{PublicUser, StoredUser};

/// A user as the caller may see them: the account's status only for those who moderate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCard {
    /// The user.
    pub user: PublicUser,
    /// Their account's status in force now, when the caller may know it.
    pub status: Option<AccountStatus>,
}

/// One page of a listing and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass it back for the next page; `None` on the last.
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// A page from `items` fetched with one more than `limit`: the extra one only tells that
    /// another page follows, whose cursor `cursor_of` the last item kept gives.
    pub(crate) fn from_probe(
        mut items: Vec<T>,
        limit: u32,
        cursor_of: impl Fn(&T) -> String,
    ) -> Self {
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next = if more {
            items.last().map(cursor_of)
        } else {
            None
        };
        Self { items, next }
    }

    /// The same page with each item turned into another.
    pub(crate) fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

impl App {
    /// The caller's own account, which must exist and be usable: a suspension that started
    /// after the token was issued already ended the session, but a stale read must not let a
    /// suspended admin act.
    pub(crate) async fn acting_user(&self, principal: &Principal) -> AppResult<StoredUser> {
        let user = self
            .store
            .user(&principal.tenant, principal.user)
            .await?
            .filter(|u| !u.deleted)
            .ok_or_else(|| AppError::unauthenticated("this account no longer exists"))?;
        account_usable(&user, self.clock.now_ms())?;
        Ok(user)
    }

    /// The caller's account, which must hold `at_least` as its tenant role.
    pub(crate) async fn acting_as(
        &self,
        principal: &Principal,
        at_least: TenantRole,
    ) -> AppResult<StoredUser> {
        let user = self.acting_user(principal).await?;
        if user.role < at_least {
            return Err(AppError::new(
                ErrorCode::Forbidden,
                format!("this needs the tenant role {at_least} or higher"),
            ));
        }
        Ok(user)
    }

    fn card(&self, user: PublicUser, viewer: TenantRole) -> UserCard {
        let status =
            (viewer.moderates() && !user.deleted).then(|| user.status.at(self.clock.now_ms()));
        UserCard { user, status }
    }
}

/// Refuses an account that is suspended or banned at `now_ms`.
pub(crate) fn account_usable(user: &StoredUser, now_ms: i64) -> AppResult<()> {
    match user.status.at(now_ms) {
        AccountStatus::Active => Ok(()),
        AccountStatus::Suspended { until_ms } => Err(AppError::new(
            ErrorCode::AccountSuspended,
            format!(
                "this account is suspended until {}",
                crate::ports::chat::rfc3339(until_ms)
            ),
        )),
        AccountStatus::Banned => Err(AppError::new(
            ErrorCode::AccountBanned,
            "this account is banned",
        )),
    }
}
