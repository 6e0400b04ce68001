//! The end of an account: deleted by its owner, who proves it is them again, or by an
//! administrator. Everything that depended on the account ends at once; what becomes of its
//! messages is the tenant's rule (kept as "Deleted user", or erased by the eraser).

use super::App;
use crate::app::auth::Principal;
use crate::app::{AppError, AppResult, ErrorCode};
use crate::domain::{
    Action, ClientInfo, DeletedMessages, Password, Reason, Subject, Tenant, TenantRole, UserId,
};
use crate::ports::{AccountErasure, Revocation, SessionScope};
use serde_json::json;

/// Who ends an account, for the audit trail.
enum Ender<'a> {
    /// The account's owner: the entry names only the pseudonym, and keeps no address.
    Themselves,
    /// An administrator, with the reason they gave.
    Administrator { id: UserId, reason: &'a Reason },
}

impl App {
    /// Deletes the caller's own account after re-authentication: the password, and a current
    /// code when MFA is on (a stolen access token alone cannot delete an account).
    #[tracing::instrument(name = "delete_own_account", skip_all, fields(tenant = %tenant.id))]
    pub async fn delete_own_account(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        password: Password,
        code: Option<&str>,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let user = self.acting_user(principal).await?;
        let subjects = [
            Subject::User(&tenant.id, user.id),
            Subject::Address(client.ip),
        ];
        self.charge(tenant.tier, Action::AccountData, &subjects)
            .await?;
        self.reauthenticate(tenant, &user, password, code).await?;
        self.end_account(tenant, user.id, Ender::Themselves, client)
            .await
    }

    /// Deletes someone's account. Administrators, and only below their own role.
    #[tracing::instrument(name = "delete_account_as_admin", skip_all, fields(tenant = %tenant.id))]
    pub async fn delete_account_as_admin(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        target: UserId,
        reason: &Reason,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let actor = self
            .administrator(tenant, principal, TenantRole::Admin)
            .await?;
        let subject = self
            .other_account(
                tenant,
                &actor,
                target,
                "delete your own account with DELETE /api/v1/auth/me",
            )
            .await?;
        if !actor.role.may_act_on(subject.role) {
            return Err(AppError::new(
                ErrorCode::Forbidden,
                format!(
                    "a tenant {} cannot delete a tenant {}",
                    actor.role, subject.role
                ),
            ));
        }
        let ender = Ender::Administrator {
            id: actor.id,
            reason,
        };
        self.end_account(tenant, target, ender, client).await
    }

    async fn end_account(
        &self,
        tenant: &Tenant,
        user: UserId,
        ender: Ender<'_>,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let rules = self.store.account_rules(&tenant.id).await?;
        let pseudonym = UserId::generate();
        let messages = rules.deleted_messages.as_str();
        let audit = match ender {
            Ender::Themselves => self.audit_action(
                "account.deleted",
                Some(pseudonym),
                format!("user:{pseudonym}"),
                None,
                json!({ "by": "self", "messages": messages }),
            ),
            Ender::Administrator { id, reason } => self.audit_action(
                "account.deleted",
                Some(id),
                format!("user:{pseudonym}"),
                Some(client),
                json!({ "by": "admin", "messages": messages, "reason": reason.as_str() }),
            ),
        };
        let erasure = AccountErasure {
            pseudonym,
            messages: rules.deleted_messages,
            audit,
        };
        let outcome = self
            .store
            .delete_account(&tenant.id, user, &erasure)
            .await?;
        super::admin::changed(
            outcome,
            "the tenant's last owner cannot be deleted: make someone else an owner first",
        )?;
        self.revocations.sessions_ended(&Revocation {
            tenant: tenant.id.clone(),
            user,
            scope: SessionScope::All,
            reason: "account deleted".into(),
        });
        if rules.deleted_messages == DeletedMessages::Erase {
            self.erasures.notify_one();
        }
        Ok(())
    }
}
