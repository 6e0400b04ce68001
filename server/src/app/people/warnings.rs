//! Warnings: a moderator's word to an account's holder. A warning is an audit entry
//! (`user.warned`, written by `act_on_account`); its holder reads their own, without the name of
//! the moderator, and gets it by mail when the server sends mail and the address is proven.

use super::App;
use crate::app::AppResult;
use crate::app::auth::Principal;
use crate::domain::{Action, Reason, Subject, Tenant};
use crate::ports::{AuditQuery, Mail, StoredUser};

/// Most warnings one page lists.
const WARNINGS_MAX: u32 = 100;

/// A warning as its holder sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// Why, in the moderator's words.
    pub reason: String,
}

impl App {
    /// The caller's warnings, newest first (the latest hundred).
    #[tracing::instrument(name = "my_warnings", skip_all, fields(tenant = %tenant.id))]
    pub async fn my_warnings(
        &self,
        tenant: &Tenant,
        principal: &Principal,
    ) -> AppResult<Vec<Warning>> {
        let me = self.acting_user(principal).await?;
        let subjects = [Subject::User(&tenant.id, me.id)];
        self.charge(tenant.tier, Action::Lookup, &subjects).await?;
        let query = AuditQuery {
            actor: None,
            action: Some("user.warned".to_owned()),
            target: Some(format!("user:{}", me.id)),
            from_ms: None,
            to_ms: None,
            before: None,
            limit: WARNINGS_MAX,
        };
        let entries = self.store.audit_page(&tenant.id, &query).await?;
        Ok(entries
            .into_iter()
            .map(|entry| Warning {
                at_ms: entry.at_ms,
                reason: entry.detail["reason"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            })
            .collect())
    }

    /// Mails a warning to its holder, when the server sends mail and the address is proven
    /// (an unproven address may be someone else's).
    pub(super) fn mail_warning(&self, tenant: &Tenant, subject: &StoredUser, reason: &Reason) {
        let Some(postbox) = self.postbox.as_ref() else {
            return;
        };
        if !subject.email_verified {
            return;
        }
        postbox.post(Mail {
            to: subject.email.clone(),
            subject: "A warning from the moderators of your ChemChat".to_owned(),
            text: format!(
                "The moderators of {} warned your account {}:\n\n{}\n\n\
                 Further breaches of the community's rules may lead to a suspension.\n",
                tenant.id,
                subject.username,
                reason.as_str()
            ),
            ..Mail::default()
        });
    }
}
