-- Who may speak in a conversation and how often. Owners and admins make a group read-only
-- (announcements: only they post) or slow (members post once per N seconds); members can be
-- muted until a time, by the conversation's owners and admins or by the tenant's moderators.
-- A mute stays on the membership row, so leaving and rejoining does not lift it.

ALTER TABLE conversations ADD COLUMN posting TEXT NOT NULL DEFAULT 'everyone'
    CHECK (posting IN ('everyone', 'admins'));
ALTER TABLE conversations ADD COLUMN slow_mode_seconds BIGINT NOT NULL DEFAULT 0
    CHECK (slow_mode_seconds BETWEEN 0 AND 86400);

ALTER TABLE conversation_members ADD COLUMN muted_until BIGINT;
-- Written only while slow mode is on, so a send elsewhere costs nothing more.
ALTER TABLE conversation_members ADD COLUMN last_sent_at BIGINT;
