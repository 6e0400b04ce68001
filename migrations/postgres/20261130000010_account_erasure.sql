-- The end of an account: a deleted user's row stays, emptied of everything personal, so the
-- messages a tenant keeps can still name their sender "Deleted user" and old ids resolve; what
-- their messages become is the tenant's choice; erasing them runs in bounded batches from a
-- work queue, so a prolific account does not hold one long transaction.

ALTER TABLE users ADD COLUMN deleted_at BIGINT;

-- What happens to a deleted user's messages: kept under "Deleted user", or erased (tombstones).
ALTER TABLE tenant_settings ADD COLUMN deleted_user_messages TEXT NOT NULL DEFAULT 'keep'
    CHECK (deleted_user_messages IN ('keep', 'erase'));

CREATE TABLE erasures (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL,
    requested_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX erasures_by_time ON erasures (requested_at);

ALTER TABLE erasures ENABLE ROW LEVEL SECURITY;
ALTER TABLE erasures FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON erasures
    USING (tenant_id = current_setting('chemchat.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('chemchat.tenant_id', true));
-- The eraser finds the next piece of work across tenants (opting in per transaction with
-- `chemchat.eraser`, which no request path sets), then does it as that tenant.
CREATE POLICY eraser ON erasures
    USING (current_setting('chemchat.eraser', true) = 'on');

-- A sender's messages, for erasure and for the account's export.
CREATE INDEX messages_by_sender ON messages (tenant_id, sender_id, created_at, id);
