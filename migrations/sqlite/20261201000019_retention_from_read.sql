-- Disappearing messages counted from reading: a conversation's retention may start when every
-- member but a message's sender has read it. The moment is stamped on the message by the read
-- receipt that completes it, and the sweeper walks live, stamped messages by that moment.

ALTER TABLE conversations ADD COLUMN retention_from TEXT NOT NULL DEFAULT 'sent'
    CHECK (retention_from IN ('sent', 'read'));
ALTER TABLE messages ADD COLUMN read_by_all_at INTEGER;

CREATE INDEX messages_live_by_read ON messages (tenant_id, conversation_id, read_by_all_at)
    WHERE deleted_at IS NULL AND read_by_all_at IS NOT NULL;
