//! The account's export: everything the user put into the tenant — the profile, their own
//! messages and the media they uploaded — read a page at a time, so an export of years of
//! chat streams out in constant memory.

use super::App;
use crate::app::AppResult;
use crate::app::auth::{Principal, Profile};
use crate::domain::{Action, ClientInfo, MediaId, MessageId, Subject, Tenant, TenantId, UserId};
use crate::ports::MediaItem;
use crate::ports::chat::Message;
use serde_json::json;

/// Messages or media read per page.
pub const EXPORT_PAGE: u32 = 500;

/// An export under way: the profile read at its start, then pages of messages, then of media.
#[derive(Debug)]
pub struct AccountExport {
    app: App,
    tenant: TenantId,
    user: UserId,
    /// The profile, as it was when the export started.
    pub profile: Profile,
    after_message: Option<(i64, MessageId)>,
    after_media: Option<(i64, MediaId)>,
    messages_done: bool,
    media_done: bool,
}

impl AccountExport {
    /// The next page of the user's messages, oldest first; `None` when all were read.
    pub async fn next_messages(&mut self) -> AppResult<Option<Vec<Message>>> {
        if self.messages_done {
            return Ok(None);
        }
        let page = self
            .app
            .store
            .messages_sent_by(&self.tenant, self.user, self.after_message, EXPORT_PAGE)
            .await?;
        self.messages_done = page.len() < EXPORT_PAGE as usize;
        self.after_message = page.last().map(|m| (m.created_at_ms, m.id));
        Ok((!page.is_empty()).then_some(page))
    }

    /// The next page of the user's media, oldest first; `None` when all were read.
    pub async fn next_media(&mut self) -> AppResult<Option<Vec<MediaItem>>> {
        if self.media_done {
            return Ok(None);
        }
        let page = self
            .app
            .store
            .media_uploaded_by(&self.tenant, self.user, self.after_media, EXPORT_PAGE)
            .await?;
        self.media_done = page.len() < EXPORT_PAGE as usize;
        self.after_media = page.last().map(|m| (m.created_at_ms, m.id));
        Ok((!page.is_empty()).then_some(page))
    }
}

impl App {
    /// Starts an export of the caller's own data; audited, and charged to the same budget as
    /// deleting the account.
    #[tracing::instrument(name = "export_account", skip_all, fields(tenant = %tenant.id))]
    pub async fn export_account(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        client: &ClientInfo,
    ) -> AppResult<AccountExport> {
        let user = self.acting_user(principal).await?;
        let subjects = [
            Subject::User(&tenant.id, user.id),
            Subject::Address(client.ip),
        ];
        self.charge(tenant.tier, Action::AccountData, &subjects)
            .await?;
        let audit = self.audit_entry("account.exported", Some(user.id), Some(client), json!({}));
        self.store.append_audit(&tenant.id, &audit).await?;
        Ok(AccountExport {
            app: self.clone(),
            tenant: tenant.id.clone(),
            user: user.id,
            profile: Profile::from(&user),
            after_message: None,
            after_media: None,
            messages_done: false,
            media_done: false,
        })
    }
}
