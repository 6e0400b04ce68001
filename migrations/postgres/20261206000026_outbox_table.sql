-- The outbox leaves the event log. Marking an event shipped rewrote its `events` row: with
-- `published_at` in the predicate of both partial outbox indexes no mark was heap-only, so each
-- event was written twice — a second copy of its payload in the table and the write-ahead log,
-- and a second `events_pkey` entry (docs/benchmarks.md, 2026-12-06, 20:30). The waiting events
-- now have a table of their own, of keys only, filled by a trigger in the transaction that
-- writes the event and emptied by the relay once the log has them: a shipped event is a deleted
-- row there, and `events` is written once.
CREATE TABLE outbox (
    tenant_id        TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    event_seq        BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, conversation_id, event_seq)
);
-- The relay takes the oldest waiting conversations first.
CREATE INDEX outbox_by_age ON outbox (created_at);

ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON outbox
    USING (tenant_id = current_setting('chemchat.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('chemchat.tenant_id', true));
CREATE POLICY outbox_relay ON outbox
    USING (current_setting('chemchat.outbox_relay', true) = 'on')
    WITH CHECK (current_setting('chemchat.outbox_relay', true) = 'on');
CREATE POLICY tenant_role_pin ON outbox AS RESTRICTIVE
    USING (tenant_id = coalesce((SELECT chemchat_role_tenant()), tenant_id))
    WITH CHECK (tenant_id = coalesce((SELECT chemchat_role_tenant()), tenant_id));

-- Once per statement, not once per row: a send batch writes its events in one statement.
CREATE FUNCTION outbox_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox (tenant_id, conversation_id, event_seq, created_at)
    SELECT tenant_id, conversation_id, event_seq, created_at FROM written_events;
    RETURN NULL;
END $$;
CREATE TRIGGER events_enqueue AFTER INSERT ON events
    REFERENCING NEW TABLE AS written_events
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_enqueue();

-- What waits now keeps waiting (RLS applies to the migration's role too: the relay's switch
-- lets it read and write every tenant's rows).
SET LOCAL chemchat.outbox_relay = 'on';
INSERT INTO outbox (tenant_id, conversation_id, event_seq, created_at)
SELECT tenant_id, conversation_id, event_seq, created_at FROM events WHERE published_at IS NULL;

DROP INDEX events_outbox_by_age;
DROP INDEX events_outbox_by_conversation;
ALTER TABLE events DROP COLUMN published_at;
