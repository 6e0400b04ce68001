-- The outbox leaves the event log: waiting events have a table of their own, of keys only,
-- filled by a trigger in the transaction that writes the event and emptied by the relay once
-- the log has them. Marking `events.published_at` rewrote every event's row (and, on
-- PostgreSQL, wrote its payload a second time); `events` is now written once.
CREATE TABLE outbox (
    tenant_id        TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    event_seq        INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, conversation_id, event_seq)
);
-- The relay takes the oldest waiting events first.
CREATE INDEX outbox_by_age ON outbox (created_at);

CREATE TRIGGER events_enqueue AFTER INSERT ON events
BEGIN
    INSERT INTO outbox (tenant_id, conversation_id, event_seq, created_at)
    VALUES (NEW.tenant_id, NEW.conversation_id, NEW.event_seq, NEW.created_at);
END;

INSERT INTO outbox (tenant_id, conversation_id, event_seq, created_at)
SELECT tenant_id, conversation_id, event_seq, created_at FROM events WHERE published_at IS NULL;

DROP INDEX events_outbox_by_age;
DROP INDEX events_outbox_by_conversation;
ALTER TABLE events DROP COLUMN published_at;
