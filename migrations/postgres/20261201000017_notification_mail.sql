-- Email fallback: a DM or a mention waits in a queue until its digest is due; a push that
-- reached the member, or the member reading it, takes it off. One digest per user per window
-- at most (`notification_mail_sent`).

CREATE TABLE notification_mail_queue (
    tenant_id        TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    seq              BIGINT NOT NULL,
    mentioned        BIGINT NOT NULL DEFAULT 0 CHECK (mentioned IN (0, 1)),
    due_at           BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, conversation_id, seq),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX notification_mail_queue_due ON notification_mail_queue (due_at);

CREATE TABLE notification_mail_sent (
    tenant_id     TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    last_sent_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

ALTER TABLE notification_mail_queue ENABLE ROW LEVEL SECURITY;
ALTER TABLE notification_mail_queue FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON notification_mail_queue
    USING (tenant_id = current_setting('chemchat.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('chemchat.tenant_id', true));
-- The digest sender finds whose digest is due across tenants (opting in per transaction with
-- `chemchat.mail_digest`, which no request path sets), then composes it as that tenant.
CREATE POLICY mail_digest ON notification_mail_queue
    USING (current_setting('chemchat.mail_digest', true) = 'on');
CREATE POLICY tenant_role_pin ON notification_mail_queue AS RESTRICTIVE
    USING (tenant_id = coalesce((SELECT chemchat_role_tenant()), tenant_id))
    WITH CHECK (tenant_id = coalesce((SELECT chemchat_role_tenant()), tenant_id));

ALTER TABLE notification_mail_sent ENABLE ROW LEVEL SECURITY;
ALTER TABLE notification_mail_sent FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON notification_mail_sent
    USING (tenant_id = current_setting('chemchat.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('chemchat.tenant_id', true));
CREATE POLICY tenant_role_pin ON notification_mail_sent AS RESTRICTIVE
    USING (tenant_id = coalesce((SELECT chemchat_role_tenant()), tenant_id))
    WITH CHECK (tenant_id = coalesce((SELECT chemchat_role_tenant()), tenant_id));
