-- Notifications for people who are not looking: browsers' Web Push subscriptions, each user's
-- preferences (default level, email fallback, quiet hours in their own time zone), and each
-- member's level and snooze per conversation.

CREATE TABLE push_subscriptions (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    device_id   TEXT,
    endpoint    TEXT NOT NULL,
    p256dh      TEXT NOT NULL,
    auth        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    -- A browser re-subscribing with the same endpoint replaces its row.
    UNIQUE (tenant_id, endpoint),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX push_subscriptions_by_user ON push_subscriptions (tenant_id, user_id);

CREATE TABLE notification_preferences (
    tenant_id       TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    level           TEXT NOT NULL DEFAULT 'all' CHECK (level IN ('all', 'mentions', 'none')),
    email_fallback  INTEGER NOT NULL DEFAULT 1 CHECK (email_fallback IN (0, 1)),
    quiet_start     TEXT,
    quiet_end       TEXT,
    time_zone       TEXT,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- Privacy mode off by default: pushes show the sender and the start of the text.
ALTER TABLE tenant_settings ADD COLUMN push_previews INTEGER NOT NULL DEFAULT 1
    CHECK (push_previews IN (0, 1));

-- NULL level: the member's default applies.
ALTER TABLE conversation_members ADD COLUMN notify_level TEXT
    CHECK (notify_level IN ('all', 'mentions', 'none'));
ALTER TABLE conversation_members ADD COLUMN notify_snoozed_until INTEGER;
