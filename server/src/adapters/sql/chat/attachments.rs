//! The media messages carry: checked and linked when a message is sent, read with every message,
//! let go when a message is deleted (the item then waits out its grace period for the sweeper).

use super::super::engine::json_list;
use super::super::media::{MEDIA_COLUMNS, MediaRow};
use super::super::{Engine, SqlStore, Tx, db};
use super::rows::{BatchWrite, message_id};
use crate::domain::{MediaId, MessageId, TenantId, UserId};
use crate::ports::chat::Message;
use crate::ports::{MediaItem, StoreResult};
use serde_json::{Value, json};
use sqlx::AnyConnection;
use std::collections::HashMap;

/// The items among `ids` that exist in the tenant, with their uploader.
pub(super) async fn items(
    store: &SqlStore,
    tx: &mut AnyConnection,
    tenant: &TenantId,
    ids: impl Iterator<Item = MediaId>,
) -> StoreResult<HashMap<MediaId, MediaItem>> {
    let sql = format!(
        "SELECT {MEDIA_COLUMNS} FROM media m WHERE m.tenant_id = $1 AND m.id IN ({})",
        store.engine.json_strings("$2")
    );
    let rows: Vec<MediaRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(json_list(ids.map(|id| id.to_string())))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
    rows.into_iter()
        .map(|row| MediaItem::try_from(row).map(|item| (item.id, item)))
        .collect()
}

/// The attachments of a send that may not go: unknown, another user's, or not stored.
pub(super) fn refused(
    wanted: &[MediaId],
    sender: UserId,
    found: &HashMap<MediaId, MediaItem>,
) -> Vec<MediaId> {
    wanted
        .iter()
        .filter(|id| {
            !found
                .get(id)
                .is_some_and(|item| item.uploader_id == sender && item.status.attachable())
        })
        .copied()
        .collect()
}

/// What the full-text index holds of a message's attachments: each file name as written and with
/// its punctuation as spaces (`q3-report.pdf q3 report pdf`), so a search for `report` finds it
/// whatever the engine's tokenizer makes of dots and dashes; `None` without attachments.
pub(super) fn searchable_names(items: &[MediaItem]) -> Option<String> {
    if items.is_empty() {
        return None;
    }
    let names: Vec<String> = items
        .iter()
        .map(|item| {
            let name = item.filename.as_str();
            let words: String = name
                .chars()
                .map(|c| if c.is_alphanumeric() { c } else { ' ' })
                .collect();
            format!("{name} {words}")
        })
        .collect();
    Some(names.join(" "))
}

/// The writes that link the new messages to their attachments and mark those items referenced
/// (none when no message carries any).
pub(super) fn links(messages: &[Message]) -> Vec<BatchWrite> {
    let rows: Vec<Value> = messages
        .iter()
        .flat_map(|m| {
            m.attachments
                .iter()
                .enumerate()
                .map(move |(position, item)| {
                    json!({
                        "message": m.id.to_string(),
                        "media": item.id.to_string(),
                        "position": position,
                        "conversation": m.conversation_id.to_string(),
                    })
                })
        })
        .collect();
    if rows.is_empty() {
        return Vec::new();
    }
    vec![
        BatchWrite {
            sql: "INSERT INTO message_attachments (tenant_id, message_id, media_id, position, \
                  conversation_id) SELECT $1, message, media, position, conversation \
                  FROM ({rows}) AS k",
            columns: &[
                ("message", "text"),
                ("media", "text"),
                ("position", "bigint"),
                ("conversation", "text"),
            ],
            rows: rows.clone(),
        },
        BatchWrite {
            sql: "UPDATE media SET unreferenced_since = NULL FROM ({rows}) AS k \
                  WHERE media.tenant_id = $1 AND media.id = k.media",
            columns: &[("media", "text")],
            rows,
        },
    ]
}

/// Fills in the attachments of `messages` (tombstones carry none).
pub(super) async fn load(
    engine: Engine,
    tx: &mut Tx,
    tenant: &TenantId,
    messages: &mut [Message],
) -> StoreResult<()> {
    let live: Vec<String> = messages
        .iter()
        .filter(|m| m.deleted_at_ms.is_none())
        .map(|m| m.id.to_string())
        .collect();
    if live.is_empty() {
        return Ok(());
    }
    let which = format!("IN ({})", engine.json_strings("$2"));
    fill(tx, tenant, &which, json_list(live.into_iter()), messages).await
}

/// Fills in the attachments of one message.
pub(super) async fn load_one(
    tx: &mut AnyConnection,
    tenant: &TenantId,
    message: &mut Message,
) -> StoreResult<()> {
    if message.deleted_at_ms.is_some() {
        return Ok(());
    }
    let id = message.id.to_string();
    fill(tx, tenant, "= $2", id, std::slice::from_mut(message)).await
}

/// Reads the attachments of the messages `which` (a condition on `a.message_id` over `$2`) and
/// puts each on its message, in order.
async fn fill(
    tx: &mut AnyConnection,
    tenant: &TenantId,
    which: &str,
    bound: String,
    messages: &mut [Message],
) -> StoreResult<()> {
    let sql = format!(
        "SELECT a.message_id, {MEDIA_COLUMNS} FROM message_attachments a \
         JOIN media m ON m.tenant_id = a.tenant_id AND m.id = a.media_id \
         WHERE a.tenant_id = $1 AND a.message_id {which} ORDER BY a.message_id, a.position"
    );
    let rows: Vec<AttachmentRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(bound)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
    for row in rows {
        let message = message_id(&row.message_id)?;
        let item = MediaItem::try_from(row.media)?;
        if let Some(target) = messages.iter_mut().find(|m| m.id == message) {
            target.attachments.push(item);
        }
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct AttachmentRow {
    message_id: String,
    #[sqlx(flatten)]
    media: MediaRow,
}

/// Lets go of a deleted message's attachments: items nothing else carries become unreferenced
/// from `at_ms`, and the sweeper deletes them once the grace period has passed.
pub(super) async fn release(
    tx: &mut Tx,
    tenant: &TenantId,
    message: MessageId,
    at_ms: i64,
) -> StoreResult<()> {
    let released: Vec<String> = sqlx::query_scalar(
        "DELETE FROM message_attachments WHERE tenant_id = $1 AND message_id = $2 \
         RETURNING media_id",
    )
    .bind(tenant.as_str())
    .bind(message.to_string())
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
    for media in released {
        sqlx::query(
            "UPDATE media SET unreferenced_since = $3 WHERE tenant_id = $1 AND id = $2 \
             AND NOT EXISTS (SELECT 1 FROM message_attachments a \
               WHERE a.tenant_id = $1 AND a.media_id = $2) \
             AND NOT EXISTS (SELECT 1 FROM users u \
               WHERE u.tenant_id = $1 AND u.avatar_media_id = $2)",
        )
        .bind(tenant.as_str())
        .bind(&media)
        .bind(at_ms)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    }
    Ok(())
}
