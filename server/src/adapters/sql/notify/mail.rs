//! The email fallback's queue: DMs and mentions waiting for a digest, whose turn is found across
//! tenants (PostgreSQL's `mail_digest` policy) and taken as the user's tenant.

use super::super::rows::parse_user_id;
use super::super::{SqlStore, Tx, db};
use crate::domain::{ConversationId, ConversationKind, TenantId, UserId};
use crate::ports::{Digest, DigestLine, MailRecipients, StoreError, StoreResult};

/// Usernames one message may queue mail for at most (a message mentioning more mails the first).
const MAX_MENTIONED: usize = 50;
/// Senders named per conversation in a digest.
const SENDERS_NAMED: usize = 3;

pub(super) async fn queue(
    store: &SqlStore,
    tenant: &TenantId,
    conversation: ConversationId,
    seq: i64,
    recipients: &MailRecipients,
    due_at_ms: i64,
) -> StoreResult<()> {
    let (sender, usernames) = match recipients {
        MailRecipients::Direct { sender } => (sender, &[][..]),
        MailRecipients::Mentioned { sender, usernames } if !usernames.is_empty() => {
            (sender, &usernames[..usernames.len().min(MAX_MENTIONED)])
        }
        MailRecipients::Mentioned { .. } => return Ok(()),
    };
    let named = if usernames.is_empty() {
        String::new()
    } else {
        let slots: Vec<String> = (0..usernames.len())
            .map(|i| format!("${}", i + 7))
            .collect();
        format!(
            " AND m.user_id IN (SELECT u.id FROM users u WHERE u.tenant_id = $1 \
             AND u.username IN ({}))",
            slots.join(", ")
        )
    };
    let sql = format!(
        "INSERT INTO notification_mail_queue (tenant_id, user_id, conversation_id, seq, \
         mentioned, due_at) SELECT m.tenant_id, m.user_id, m.conversation_id, $3, $4, $5 \
         FROM conversation_members m WHERE m.tenant_id = $1 AND m.conversation_id = $2 \
         AND m.left_event_seq IS NULL AND m.user_id <> $6{named} ON CONFLICT DO NOTHING"
    );
    let mut tx = store.write(tenant).await?;
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(conversation.to_string())
        .bind(seq)
        .bind(i64::from(!usernames.is_empty()))
        .bind(due_at_ms)
        .bind(sender.to_string());
    for name in usernames {
        query = query.bind(name.clone());
    }
    query.execute(&mut *tx).await.map_err(db)?;
    tx.commit().await.map_err(db)
}

pub(super) async fn reached_by_push(
    store: &SqlStore,
    tenant: &TenantId,
    user: UserId,
    conversation: ConversationId,
    seq: i64,
) -> StoreResult<()> {
    let mut tx = store.write(tenant).await?;
    sqlx::query(
        "DELETE FROM notification_mail_queue WHERE tenant_id = $1 AND user_id = $2 \
         AND conversation_id = $3 AND seq <= $4",
    )
    .bind(tenant.as_str())
    .bind(user.to_string())
    .bind(conversation.to_string())
    .bind(seq)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)
}

/// A transaction that may see the mail queue of every tenant.
async fn digest_tx(store: &SqlStore) -> StoreResult<Tx> {
    store.worker("mail_digest", "read", false).await
}

pub(super) async fn next(store: &SqlStore, now_ms: i64) -> StoreResult<Option<(TenantId, UserId)>> {
    let mut tx = digest_tx(store).await?;
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT tenant_id, user_id FROM notification_mail_queue WHERE due_at <= $1 \
         ORDER BY due_at LIMIT 1",
    )
    .bind(now_ms)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    let Some((tenant, user)) = row else {
        return Ok(None);
    };
    let tenant = TenantId::parse(&tenant).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Some((tenant, parse_user_id(&user)?)))
}

/// `(email, display name, verified, deleted, wants mail)` of the user.
type Recipient = (String, String, Option<i64>, Option<i64>, i64);

/// One waiting message: conversation, kind, name, sender's display name.
type Waiting = (String, String, Option<String>, String);

pub(super) async fn take(
    store: &SqlStore,
    tenant: &TenantId,
    user: UserId,
    now_ms: i64,
    gap_ms: i64,
) -> StoreResult<Option<Digest>> {
    let mut tx = store.write(tenant).await?;
    let last: Option<i64> = sqlx::query_scalar(
        "SELECT last_sent_at FROM notification_mail_sent WHERE tenant_id = $1 AND user_id = $2",
    )
    .bind(tenant.as_str())
    .bind(user.to_string())
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    if let Some(last) = last
        && now_ms - last < gap_ms
    {
        // One digest per window: what waits goes with the next one.
        sqlx::query(
            "UPDATE notification_mail_queue SET due_at = $3 WHERE tenant_id = $1 \
             AND user_id = $2 AND due_at < $3",
        )
        .bind(tenant.as_str())
        .bind(user.to_string())
        .bind(last + gap_ms)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        return Ok(None);
    }
    let recipient: Option<Recipient> = sqlx::query_as(
        "SELECT u.email, u.display_name, u.email_verified_at, u.deleted_at, \
         COALESCE(p.email_fallback, 1) FROM users u LEFT JOIN notification_preferences p \
         ON p.tenant_id = u.tenant_id AND p.user_id = u.id \
         WHERE u.tenant_id = $1 AND u.id = $2",
    )
    .bind(tenant.as_str())
    .bind(user.to_string())
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    let waiting = waiting(&mut tx, tenant, user, now_ms).await?;
    sqlx::query(
        "DELETE FROM notification_mail_queue WHERE tenant_id = $1 AND user_id = $2 \
         AND due_at <= $3",
    )
    .bind(tenant.as_str())
    .bind(user.to_string())
    .bind(now_ms)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    let digest = match recipient {
        Some((email, display_name, Some(_), None, wants)) if wants != 0 => Digest {
            email,
            display_name,
            lines: lines(waiting)?,
        },
        // No verified address, a deleted account, or mail turned off: nothing goes out.
        _ => Digest {
            email: String::new(),
            display_name: String::new(),
            lines: Vec::new(),
        },
    };
    if !digest.lines.is_empty() {
        sqlx::query(
            "INSERT INTO notification_mail_sent (tenant_id, user_id, last_sent_at) \
             VALUES ($1, $2, $3) ON CONFLICT (tenant_id, user_id) \
             DO UPDATE SET last_sent_at = excluded.last_sent_at",
        )
        .bind(tenant.as_str())
        .bind(user.to_string())
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    }
    tx.commit().await.map_err(db)?;
    Ok(Some(digest))
}

/// The due messages still worth telling: unread, not deleted, in a conversation the user still
/// belongs to and neither set to `none` nor snoozed.
async fn waiting(
    tx: &mut Tx,
    tenant: &TenantId,
    user: UserId,
    now_ms: i64,
) -> StoreResult<Vec<Waiting>> {
    sqlx::query_as(
        "SELECT q.conversation_id, c.kind, c.name, s.display_name \
         FROM notification_mail_queue q \
         JOIN conversation_members m ON m.tenant_id = q.tenant_id \
           AND m.conversation_id = q.conversation_id AND m.user_id = q.user_id \
         JOIN conversations c ON c.tenant_id = q.tenant_id AND c.id = q.conversation_id \
         JOIN messages g ON g.tenant_id = q.tenant_id AND g.conversation_id = q.conversation_id \
           AND g.seq = q.seq \
         JOIN users s ON s.tenant_id = g.tenant_id AND s.id = g.sender_id \
         WHERE q.tenant_id = $1 AND q.user_id = $2 AND q.due_at <= $3 \
           AND m.left_event_seq IS NULL AND q.seq > m.last_read_seq \
           AND g.deleted_at IS NULL \
           AND (m.notify_level IS NULL OR m.notify_level <> 'none') \
           AND (m.notify_snoozed_until IS NULL OR m.notify_snoozed_until <= $3) \
         ORDER BY c.last_activity_at DESC, q.conversation_id, q.seq",
    )
    .bind(tenant.as_str())
    .bind(user.to_string())
    .bind(now_ms)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)
}

fn lines(waiting: Vec<Waiting>) -> StoreResult<Vec<DigestLine>> {
    let mut lines: Vec<DigestLine> = Vec::new();
    for (conversation, kind, name, sender) in waiting {
        let conversation = ConversationId::parse(&conversation)
            .ok_or_else(|| StoreError::Corrupt(format!("conversation id '{conversation}'")))?;
        if lines.last().is_none_or(|l| l.conversation != conversation) {
            lines.push(DigestLine {
                conversation,
                kind: ConversationKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("conversation kind '{kind}'")))?,
                name,
                unread: 0,
                senders: Vec::new(),
            });
        }
        let Some(line) = lines.last_mut() else {
            continue;
        };
        line.unread += 1;
        if line.senders.len() < SENDERS_NAMED && !line.senders.contains(&sender) {
            line.senders.push(sender);
        }
    }
    Ok(lines)
}
