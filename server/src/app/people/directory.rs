//! Finding people: the directory's prefix search, profiles by id, and batch look-ups so a
//! client names every sender of a screen in one request.

use super::{App, Page, UserCard};
use crate::app::auth::Principal;
use crate::app::{AppError, AppResult, ErrorCode};
use crate::domain::{Action, NamePrefix, Subject, Tenant, UserId};
use crate::ports::UserQuery;

/// Largest page of the directory, and most ids in one batch look-up.
pub const DIRECTORY_PAGE_MAX: u32 = 100;

impl App {
    /// The tenant's users whose username or display name starts with `prefix` (everyone when
    /// `None`), in username order after `after`. Suspended and banned accounts are shown only
    /// to those who moderate.
    #[tracing::instrument(name = "directory", skip_all, fields(tenant = %tenant.id))]
    pub async fn directory(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        prefix: Option<NamePrefix>,
        after: Option<String>,
        limit: u32,
    ) -> AppResult<Page<UserCard>> {
        let viewer = self.acting_user(principal).await?;
        self.charge_lookup(tenant, principal).await?;
        let limit = limit.clamp(1, DIRECTORY_PAGE_MAX);
        let query = UserQuery {
            prefix: prefix.map(|p| p.as_str().to_owned()),
            usable_only: !viewer.role.moderates(),
            after,
            limit: limit + 1,
            now_ms: self.clock.now_ms(),
            ..UserQuery::default()
        };
        let users = self.store.users_page(&principal.tenant, &query).await?;
        Ok(Page::from_probe(users, limit, |u| u.username.clone())
            .map(|u| self.card(u, viewer.role)))
    }

    /// The users of the caller's tenant among `ids` (at most [`DIRECTORY_PAGE_MAX`]), in the
    /// order asked; unknown ids are left out.
    #[tracing::instrument(name = "users_by_ids", skip_all, fields(tenant = %tenant.id))]
    pub async fn users_by_ids(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        ids: &[UserId],
    ) -> AppResult<Vec<UserCard>> {
        if ids.len() > DIRECTORY_PAGE_MAX as usize {
            return Err(AppError {
                field: Some("ids"),
                ..AppError::new(
                    ErrorCode::InvalidQuery,
                    format!("ids: at most {DIRECTORY_PAGE_MAX} at once"),
                )
            });
        }
        let viewer = self.acting_user(principal).await?;
        self.charge_lookup(tenant, principal).await?;
        let found = self.store.users_by_ids(&principal.tenant, ids).await?;
        let mut cards = Vec::with_capacity(found.len());
        for id in ids {
            if cards.iter().any(|c: &UserCard| c.user.id == *id) {
                continue;
            }
            if let Some(user) = found.iter().find(|u| u.id == *id) {
                cards.push(self.card(user.clone(), viewer.role));
            }
        }
        Ok(cards)
    }

    /// One user of the caller's tenant.
    #[tracing::instrument(name = "user_card", skip_all, fields(tenant = %tenant.id))]
    pub async fn user_card(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        id: UserId,
    ) -> AppResult<UserCard> {
        self.users_by_ids(tenant, principal, &[id])
            .await?
            .pop()
            .ok_or_else(|| AppError::new(ErrorCode::UserNotFound, "user does not exist"))
    }

    async fn charge_lookup(&self, tenant: &Tenant, principal: &Principal) -> AppResult<()> {
        let subjects = [
            Subject::User(&principal.tenant, principal.user),
            Subject::Tenant(&principal.tenant),
        ];
        self.charge(tenant.tier, Action::Lookup, &subjects).await
    }
}
