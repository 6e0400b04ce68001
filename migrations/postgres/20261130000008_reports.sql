-- Reports of messages to the tenant's moderators.
--
-- `content` keeps the reported text as it was when reported, so deleting the message does not
-- hide the evidence from the moderators; it is erased when the report is closed.

CREATE TABLE reports (
    tenant_id        TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id               TEXT NOT NULL,
    message_id       TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    sender_id        TEXT NOT NULL,
    reporter_id      TEXT NOT NULL,
    reason           TEXT NOT NULL,
    content          TEXT,
    status           TEXT NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'resolved', 'dismissed')),
    created_at       BIGINT NOT NULL,
    closed_at        BIGINT,
    closed_by        TEXT,
    resolution       TEXT,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, message_id, reporter_id)
);
CREATE INDEX reports_queue ON reports (tenant_id, status, created_at, id);

ALTER TABLE reports ENABLE ROW LEVEL SECURITY;
ALTER TABLE reports FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON reports
    USING (tenant_id = current_setting('chemchat.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('chemchat.tenant_id', true));
