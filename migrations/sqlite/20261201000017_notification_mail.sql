-- Email fallback: a DM or a mention waits in a queue until its digest is due; a push that
-- reached the member, or the member reading it, takes it off. One digest per user per window
-- at most (`notification_mail_sent`).

CREATE TABLE notification_mail_queue (
    tenant_id        TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    seq              INTEGER NOT NULL,
    mentioned        INTEGER NOT NULL DEFAULT 0 CHECK (mentioned IN (0, 1)),
    due_at           INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id, conversation_id, seq),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX notification_mail_queue_due ON notification_mail_queue (due_at);

CREATE TABLE notification_mail_sent (
    tenant_id     TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    last_sent_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
