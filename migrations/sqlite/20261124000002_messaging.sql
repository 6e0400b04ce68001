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
    created_at        INTEGER NOT NULL,
    last_activity_at  INTEGER NOT NULL,
    last_seq          INTEGER NOT NULL DEFAULT 0,
    last_event_seq    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, dm_key)
) STRICT;
CREATE INDEX conversations_by_activity ON conversations (tenant_id, last_activity_at, id);

-- A member row outlives leaving (`left_event_seq` set) so sync can still deliver the events up to
-- the departure; `joined_event_seq` is the first event the member may not see.
CREATE TABLE conversation_members (
    tenant_id         TEXT NOT NULL,
    conversation_id   TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    role              TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    joined_at         INTEGER NOT NULL,
    joined_event_seq  INTEGER NOT NULL DEFAULT 0,
    left_event_seq    INTEGER,
    last_read_seq     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, conversation_id, user_id),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX conversation_members_by_user ON conversation_members (tenant_id, user_id);

CREATE TABLE messages (
    tenant_id          TEXT NOT NULL,
    id                 TEXT NOT NULL,
    conversation_id    TEXT NOT NULL,
    seq                INTEGER NOT NULL,
    sender_id          TEXT NOT NULL,
    client_message_id  TEXT NOT NULL,
    kind               TEXT NOT NULL DEFAULT 'text',
    -- NULL once deleted: the tombstone keeps the seq, never the text.
    content            TEXT,
    version            INTEGER NOT NULL DEFAULT 1,
    created_at         INTEGER NOT NULL,
    edited_at          INTEGER,
    deleted_at         INTEGER,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, conversation_id, seq),
    UNIQUE (tenant_id, conversation_id, sender_id, client_message_id),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE message_edits (
    tenant_id   TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    version     INTEGER NOT NULL,
    content     TEXT NOT NULL,
    edited_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, message_id, version),
    FOREIGN KEY (tenant_id, message_id) REFERENCES messages (tenant_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE reactions (
    tenant_id        TEXT NOT NULL,
    message_id       TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    emoji            TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, message_id, user_id, emoji),
    FOREIGN KEY (tenant_id, message_id) REFERENCES messages (tenant_id, id) ON DELETE CASCADE
) STRICT;

-- The outbox: written in the transaction of the change it describes, shipped by the relay, which
-- sets `published_at`. Sync reads it too, by (conversation, event_seq).
CREATE TABLE events (
    tenant_id        TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    event_seq        INTEGER NOT NULL,
    id               TEXT NOT NULL,
    kind             TEXT NOT NULL,
    -- The message an event carries, so deleting it can scrub its text from earlier events too.
    message_id       TEXT,
    payload          TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    published_at     INTEGER,
    PRIMARY KEY (tenant_id, conversation_id, event_seq),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX events_unpublished ON events (published_at) WHERE published_at IS NULL;

-- Messages sent per tenant per UTC day, for the daily quota; one row per tenant and day.
CREATE TABLE tenant_daily_usage (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    day        INTEGER NOT NULL,
    messages   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day)
) STRICT;
