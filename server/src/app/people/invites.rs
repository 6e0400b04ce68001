//! Invitations to register, made and revoked by the tenant's administrators. A code is shown
//! once, to its maker; the store keeps its hash. Registration spends it (`App::register`).

use super::{App, Page};
use crate::app::auth::Principal;
use crate::app::{AppError, AppResult, ErrorCode};
use crate::domain::{
    ClientInfo, InviteId, MailToken, Tenant, TenantRole, ValidationError, invite_expiry,
    invite_uses,
};
use crate::ports::{Invite, NewInvite};
use serde_json::json;

/// Longest note an invitation carries.
const MAX_NOTE_CHARS: usize = 200;

/// What an administrator asks for.
#[derive(Debug, Clone, Default)]
pub struct InviteRequest {
    /// Registrations it admits (1–10 000); unlimited until it expires when `None`.
    pub max_uses: Option<i64>,
    /// When it expires (Unix milliseconds; within 90 days); 7 days from now when `None`.
    pub expires_at_ms: Option<i64>,
    /// What it is for.
    pub note: String,
}

impl App {
    /// Makes an invitation; the code is in the answer and nowhere else. Administrators.
    #[tracing::instrument(name = "create_invite", skip_all, fields(tenant = %tenant.id))]
    pub async fn create_invite(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        request: InviteRequest,
        client: &ClientInfo,
    ) -> AppResult<(Invite, MailToken)> {
        let now = self.clock.now_ms();
        let max_uses = invite_uses(request.max_uses)?;
        let expires_at_ms = invite_expiry(now, request.expires_at_ms)?;
        let note = request.note.trim().to_owned();
        if note.chars().count() > MAX_NOTE_CHARS || note.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "note",
                format!("at most {MAX_NOTE_CHARS} characters, no control characters"),
            )
            .into());
        }
        let actor = self
            .administrator(tenant, principal, TenantRole::Admin)
            .await?;
        let code = MailToken::generate();
        let invite = Invite {
            id: InviteId::generate(),
            created_by: actor.id,
            created_at_ms: now,
            expires_at_ms,
            max_uses,
            uses: 0,
            revoked_at_ms: None,
            note,
        };
        let audit = self.audit_action(
            "invite.created",
            Some(actor.id),
            format!("invite:{}", invite.id),
            Some(client),
            json!({ "maxUses": max_uses, "expiresAt": crate::ports::chat::rfc3339(expires_at_ms),
                "note": invite.note }),
        );
        let new = NewInvite {
            invite,
            code_hash: code.hash(),
        };
        self.store.create_invite(&tenant.id, &new, &audit).await?;
        Ok((new.invite, code))
    }

    /// The tenant's invitations, newest first. Administrators.
    #[tracing::instrument(name = "invites", skip_all, fields(tenant = %tenant.id))]
    pub async fn invites(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<Invite>> {
        self.administrator(tenant, principal, TenantRole::Admin)
            .await?;
        let before = cursor.map(super::admin::parse_cursor).transpose()?;
        let limit = limit.clamp(1, super::DIRECTORY_PAGE_MAX);
        let invites = self
            .store
            .invites_page(&tenant.id, before, limit + 1)
            .await?;
        Ok(Page::from_probe(invites, limit, |i| {
            format!("{}_{}", i.created_at_ms, i.id)
        }))
    }

    /// Revokes an invitation: no one registers with it any more. Administrators.
    #[tracing::instrument(name = "revoke_invite", skip_all, fields(tenant = %tenant.id))]
    pub async fn revoke_invite(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        id: InviteId,
        client: &ClientInfo,
    ) -> AppResult<Invite> {
        let actor = self
            .administrator(tenant, principal, TenantRole::Admin)
            .await?;
        let audit = self.audit_action(
            "invite.revoked",
            Some(actor.id),
            format!("invite:{id}"),
            Some(client),
            json!({}),
        );
        self.store
            .revoke_invite(&tenant.id, id, &audit)
            .await?
            .ok_or_else(|| AppError::new(ErrorCode::NotFound, "no such invitation"))
    }
}
