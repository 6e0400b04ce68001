//! The event log carries no message text (`ports/chat/event_text.rs`): the relay ships each event
//! without it, and the consumers that need it — the search indexer, the notifier — read it back
//! here, from the store, which is the one copy a deletion, an expiry or an account's erasure
//! removes. A message gone by the time its event is consumed comes back as a tombstone.

use crate::domain::{MessageId, TenantId};
use crate::ports::chat::{MessageText, StoredEvent};
use crate::ports::{Store, StoreResult};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// `batch` with the text of every message event read back from the store: one read per tenant.
pub async fn with_text(
    store: &dyn Store,
    batch: &[Arc<StoredEvent>],
) -> StoreResult<Vec<Arc<StoredEvent>>> {
    let mut wanted: BTreeMap<&TenantId, Vec<MessageId>> = BTreeMap::new();
    for event in batch.iter().filter(|e| e.needs_text()) {
        if let Some(id) = message_id(event) {
            wanted.entry(&event.tenant).or_default().push(id);
        }
    }
    let mut texts: HashMap<(&TenantId, MessageId), MessageText> = HashMap::new();
    for (tenant, ids) in wanted {
        for text in store.message_texts(tenant, &ids).await? {
            texts.insert((tenant, text.id), text);
        }
    }
    Ok(batch
        .iter()
        .map(
            |event| match message_id(event).filter(|_| event.needs_text()) {
                Some(id) => {
                    let mut copy = StoredEvent::clone(event);
                    copy.restore_text(texts.get(&(&event.tenant, id)));
                    Arc::new(copy)
                }
                None => Arc::clone(event),
            },
        )
        .collect())
}

fn message_id(event: &StoredEvent) -> Option<MessageId> {
    MessageId::parse(&event.payload.message()?.id)
}
