-- Conversations, members, messages, edit history, reactions, and the event log that is both the
-- outbox and the source of delta sync.
--
-- Ordering: `conversations.last_seq` numbers messages and `conversations.last_event_seq` numbers
-- events, both per conversation and both advanced under the conversation row's write lock inside
-- the transaction that writes the message or event, so they are gap-free and commit in order.

CREATE TABLE conversations (
    tenant_id         TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('dm', 'group')),
    name              TEXT,
    -- The two member ids of a DM, sorted and joined, so the same pair maps to one conversation.
    dm_key            TEXT,
    created_by        TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    last_activity_at  BIGINT NOT NULL,
    last_seq          BIGINT NOT NULL DEFAULT 0,
    last_event_seq    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, dm_key)
);
CREATE INDEX conversations_by_activity ON conversations (tenant_id, last_activity_at, id);

-- A member row outlives leaving (`left_event_seq` set) so sync can still deliver the events up to
-- the departure; `joined_event_seq` is the first event the member may not see.
CREATE TABLE conversation_members (
    tenant_id         TEXT NOT NULL,
    conversation_id   TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    role              TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    joined_at         BIGINT NOT NULL,
    joined_event_seq  BIGINT NOT NULL DEFAULT 0,
    left_event_seq    BIGINT,
    last_read_seq     BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, conversation_id, user_id),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX conversation_members_by_user ON conversation_members (tenant_id, user_id);

CREATE TABLE messages (
    tenant_id          TEXT NOT NULL,
    id                 TEXT NOT NULL,
    conversation_id    TEXT NOT NULL,
    seq                BIGINT NOT NULL,
    sender_id          TEXT NOT NULL,
    client_message_id  TEXT NOT NULL,
    kind               TEXT NOT NULL DEFAULT 'text',
    -- NULL once deleted: the tombstone keeps the seq, never the text.
    content            TEXT,
    version            BIGINT NOT NULL DEFAULT 1,
    created_at         BIGINT NOT NULL,
    edited_at          BIGINT,
    deleted_at         BIGINT,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, conversation_id, seq),
    UNIQUE (tenant_id, conversation_id, sender_id, client_message_id),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE message_edits (
    tenant_id   TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    version     BIGINT NOT NULL,
    content     TEXT NOT NULL,
    edited_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, message_id, version),
    FOREIGN KEY (tenant_id, message_id) REFERENCES messages (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE reactions (
    tenant_id        TEXT NOT NULL,
    message_id       TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    emoji            TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, message_id, user_id, emoji),
    FOREIGN KEY (tenant_id, message_id) REFERENCES messages (tenant_id, id) ON DELETE CASCADE
);

-- The outbox: written in the transaction of the change it describes, shipped by the relay, which
-- sets `published_at`. Sync reads it too, by (conversation, event_seq).
CREATE TABLE events (
    tenant_id        TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    event_seq        BIGINT NOT NULL,
    id               TEXT NOT NULL,
    kind             TEXT NOT NULL,
    -- The message an event carries, so deleting it can scrub its text from earlier events too.
    message_id       TEXT,
    payload          TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    published_at     BIGINT,
    PRIMARY KEY (tenant_id, conversation_id, event_seq),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX events_unpublished ON events (published_at) WHERE published_at IS NULL;

-- Messages sent per tenant per UTC day, for the daily quota; one row per tenant and day.
CREATE TABLE tenant_daily_usage (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    day        BIGINT NOT NULL,
    messages   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day)
);

DO $$
DECLARE t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['conversations', 'conversation_members', 'messages', 'message_edits',
                             'reactions', 'events', 'tenant_daily_usage'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I '
            'USING (tenant_id = current_setting(''chemchat.tenant_id'', true)) '
            'WITH CHECK (tenant_id = current_setting(''chemchat.tenant_id'', true))', t);
    END LOOP;
END $$;

-- The outbox relay is the one reader that spans tenants: it ships every tenant's events, each of
-- which carries its tenant id. It opts in per transaction with `chemchat.outbox_relay`; no request
-- path sets it.
CREATE POLICY outbox_relay ON events
    USING (current_setting('chemchat.outbox_relay', true) = 'on')
    WITH CHECK (current_setting('chemchat.outbox_relay', true) = 'on');
