//! A report resolved: the moderator's action and the report's closing in one transaction, so a
//! report is never closed without its action nor acted on twice by two moderators at once.
//! The action's writers keep their own lock order (the conversation's lock first); the report
//! row is closed last.

use super::chat::{delete_as_moderator_in, mute_in};
use super::people::accounts::set_status_in;
use super::people::reports::close_in;
use super::{SqlStore, audit, db};
use crate::domain::TenantId;
use crate::ports::chat::MembershipOutcome;
use crate::ports::{AccountChange, ReportAction, ReportClosing, ReportResolution, StoreResult};

pub(super) async fn resolve(
    store: &SqlStore,
    tenant: &TenantId,
    action: ReportAction<'_>,
    closing: &ReportClosing,
) -> StoreResult<ReportResolution> {
    let mut tx = store.write(tenant).await?;
    let mut written = Vec::new();
    // Every early return drops `tx`: a refused action rolls back whatever it wrote.
    match action {
        ReportAction::Nothing => {}
        ReportAction::Record(entry) => audit::insert(&mut tx, tenant, entry).await?,
        ReportAction::DeleteMessage {
            message,
            at_ms,
            audit: entry,
        } => {
            if let Some(event) = delete_as_moderator_in(&mut tx, tenant, message, at_ms).await? {
                audit::insert(&mut tx, tenant, entry).await?;
                written.push(event);
            }
        }
        ReportAction::SetAccountStatus {
            user,
            status,
            audit: entry,
        } => {
            let change = set_status_in(store, &mut tx, tenant, user, status, entry).await?;
            if change != AccountChange::Changed {
                return Ok(ReportResolution::AccountRefused(change));
            }
        }
        ReportAction::Mute {
            conversation,
            change,
        } => match mute_in(&mut tx, tenant, conversation, change).await? {
            (MembershipOutcome::Done(_), Some(event)) => written.push(event),
            (outcome, _) => return Ok(ReportResolution::MuteRefused(outcome)),
        },
    }
    let Some(report) = close_in(&mut tx, tenant, closing).await? else {
        return Ok(ReportResolution::NotOpen);
    };
    tx.commit().await.map_err(db)?;
    store.committed(&written);
    Ok(ReportResolution::Closed(report))
}
