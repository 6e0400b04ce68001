-- Retention: a tenant's maximum age of messages and a conversation's own shorter one
-- (disappearing messages), legal holds on either that keep everything they cover, and the
-- indexes the retention sweeper walks: live messages by age, per tenant and per conversation.

ALTER TABLE tenant_settings ADD COLUMN retention_seconds BIGINT;
ALTER TABLE tenant_settings ADD COLUMN legal_hold BIGINT NOT NULL DEFAULT 0 CHECK (legal_hold IN (0, 1));
ALTER TABLE conversations ADD COLUMN retention_seconds BIGINT;
ALTER TABLE conversations ADD COLUMN legal_hold BIGINT NOT NULL DEFAULT 0 CHECK (legal_hold IN (0, 1));

CREATE INDEX messages_live_by_age ON messages (tenant_id, created_at) WHERE deleted_at IS NULL;
CREATE INDEX messages_live_by_conversation_age ON messages (tenant_id, conversation_id, created_at)
    WHERE deleted_at IS NULL;

-- The sweeper finds the tenants with retention across tenants (opting in per transaction with
-- `chemchat.retention`, which no request path sets), then sweeps each as that tenant.
CREATE POLICY retention_sweeper ON tenant_settings FOR SELECT
    USING (current_setting('chemchat.retention', true) = 'on');
CREATE POLICY retention_sweeper ON conversations FOR SELECT
    USING (current_setting('chemchat.retention', true) = 'on');
