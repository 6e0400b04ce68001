-- The outbox relay's indexes, over unshipped events only, so their size follows the backlog and
-- not the history: one to pick the oldest waiting conversations without reading the whole
-- backlog, one to read a claimed conversation's waiting events in order without reading its
-- shipped ones. They supersede the index on published_at alone.
DROP INDEX events_unpublished;
CREATE INDEX events_outbox_by_age ON events (created_at) WHERE published_at IS NULL;
CREATE INDEX events_outbox_by_conversation ON events (tenant_id, conversation_id, event_seq)
    WHERE published_at IS NULL;
