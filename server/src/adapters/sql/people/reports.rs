//! Reports of messages: filed by members, queued for moderators, closed with what was done.

use super::super::rows::parse_user_id;
use super::super::{SqlStore, Tx, audit, db};
use crate::domain::{ConversationId, MessageId, ReportId, TenantId};
use crate::ports::{
    AuditEntry, NewReport, Report, ReportClosing, ReportFiling, ReportStatus, StoreError,
    StoreResult,
};

const COLUMNS: &str = "id, message_id, conversation_id, sender_id, reporter_id, reason, content, \
    status, created_at, closed_at, closed_by, resolution";

#[derive(sqlx::FromRow)]
struct ReportRow {
    id: String,
    message_id: String,
    conversation_id: String,
    sender_id: String,
    reporter_id: String,
    reason: String,
    content: Option<String>,
    status: String,
    created_at: i64,
    closed_at: Option<i64>,
    closed_by: Option<String>,
    resolution: Option<String>,
}

impl TryFrom<ReportRow> for Report {
    type Error = StoreError;

    fn try_from(row: ReportRow) -> Result<Self, StoreError> {
        let bad = |what: &str, raw: &str| StoreError::Corrupt(format!("report {what} '{raw}'"));
        Ok(Report {
            id: ReportId::parse(&row.id).ok_or_else(|| bad("id", &row.id))?,
            message_id: MessageId::parse(&row.message_id)
                .ok_or_else(|| bad("message", &row.message_id))?,
            conversation_id: ConversationId::parse(&row.conversation_id)
                .ok_or_else(|| bad("conversation", &row.conversation_id))?,
            sender_id: parse_user_id(&row.sender_id)?,
            reporter_id: parse_user_id(&row.reporter_id)?,
            reason: row.reason,
            content: row.content,
            status: ReportStatus::parse(&row.status).ok_or_else(|| bad("status", &row.status))?,
            created_at_ms: row.created_at,
            closed_at_ms: row.closed_at,
            closed_by: row.closed_by.as_deref().map(parse_user_id).transpose()?,
            resolution: row.resolution,
        })
    }
}

async fn select(
    tx: &mut Tx,
    tenant: &TenantId,
    predicate: &'static str,
    a: String,
    b: Option<String>,
) -> StoreResult<Option<Report>> {
    let sql = format!("SELECT {COLUMNS} FROM reports WHERE tenant_id = $1 AND {predicate}");
    let mut query = sqlx::query_as::<_, ReportRow>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(a);
    if let Some(b) = b {
        query = query.bind(b);
    }
    let row = query.fetch_optional(&mut **tx).await.map_err(db)?;
    row.map(Report::try_from).transpose()
}

pub(super) async fn file(
    store: &SqlStore,
    tenant: &TenantId,
    report: &NewReport,
    entry: &AuditEntry,
) -> StoreResult<ReportFiling> {
    let mut tx = store.write(tenant).await?;
    let message: Option<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT m.conversation_id, m.sender_id, m.content FROM messages m \
         JOIN conversation_members cm ON cm.tenant_id = m.tenant_id \
           AND cm.conversation_id = m.conversation_id AND cm.user_id = $3 \
           AND cm.left_event_seq IS NULL \
         WHERE m.tenant_id = $1 AND m.id = $2 AND m.deleted_at IS NULL",
    )
    .bind(tenant.as_str())
    .bind(report.message_id.to_string())
    .bind(report.reporter_id.to_string())
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    let Some((conversation, sender, content)) = message else {
        return Ok(ReportFiling::NotFound);
    };
    let earlier = select(
        &mut tx,
        tenant,
        "message_id = $2 AND reporter_id = $3",
        report.message_id.to_string(),
        Some(report.reporter_id.to_string()),
    )
    .await?;
    if let Some(earlier) = earlier {
        return Ok(ReportFiling::AlreadyFiled(earlier));
    }
    sqlx::query(
        "INSERT INTO reports (tenant_id, id, message_id, conversation_id, sender_id, \
         reporter_id, reason, content, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tenant.as_str())
    .bind(report.id.to_string())
    .bind(report.message_id.to_string())
    .bind(&conversation)
    .bind(&sender)
    .bind(report.reporter_id.to_string())
    .bind(&report.reason)
    .bind(content.as_deref())
    .bind(report.at_ms)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    audit::insert(&mut tx, tenant, entry).await?;
    let filed = select(&mut tx, tenant, "id = $2", report.id.to_string(), None).await?;
    tx.commit().await.map_err(db)?;
    filed
        .map(ReportFiling::Filed)
        .ok_or_else(|| StoreError::Corrupt("a report just filed is missing".into()))
}

pub(super) async fn get(
    store: &SqlStore,
    tenant: &TenantId,
    id: ReportId,
) -> StoreResult<Option<Report>> {
    let mut tx = store.read(tenant).await?;
    let report = select(&mut tx, tenant, "id = $2", id.to_string(), None).await?;
    tx.commit().await.map_err(db)?;
    Ok(report)
}

pub(super) async fn page(
    store: &SqlStore,
    tenant: &TenantId,
    status: Option<ReportStatus>,
    after: Option<(i64, String)>,
    limit: u32,
) -> StoreResult<Vec<Report>> {
    let (after_at, after_id) = match after {
        Some((at, id)) => (Some(at), Some(id)),
        None => (None, None),
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM reports WHERE tenant_id = $1 AND ($2 IS NULL OR status = $2) \
         AND ($3 IS NULL OR created_at > $3 OR (created_at = $3 AND id > $4)) \
         ORDER BY created_at, id LIMIT $5"
    );
    let mut tx = store.read(tenant).await?;
    let rows: Vec<ReportRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(status.map(ReportStatus::as_str))
        .bind(after_at)
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    rows.into_iter().map(Report::try_from).collect()
}

/// Closes the open report inside `tx`, the transaction of the action taken on it (erasing its
/// copy of the text) and writes the closing's audit entry; `None` when the report is not open
/// (the caller rolls back).
pub(in crate::adapters::sql) async fn close_in(
    tx: &mut Tx,
    tenant: &TenantId,
    closing: &ReportClosing,
) -> StoreResult<Option<Report>> {
    let entry = &closing.audit;
    let closed = sqlx::query(
        "UPDATE reports SET status = $3, resolution = $4, closed_at = $5, closed_by = $6, \
         content = NULL WHERE tenant_id = $1 AND id = $2 AND status = 'open'",
    )
    .bind(tenant.as_str())
    .bind(closing.id.to_string())
    .bind(closing.status.as_str())
    .bind(closing.resolution.as_str())
    .bind(entry.at_ms)
    .bind(entry.user_id.map(|u| u.to_string()))
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    if closed.rows_affected() == 0 {
        return Ok(None);
    }
    audit::insert(tx, tenant, entry).await?;
    select(tx, tenant, "id = $2", closing.id.to_string(), None).await
}
