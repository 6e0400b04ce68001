-- Media: uploaded items, the messages that carry them, and each tenant's stored bytes.
--
-- An item's objects live under `<tenant>/<id>/` in the blob store. `unreferenced_since` is set
-- while no message carries the item (from its upload, or from the deletion of the last message
-- that did); the sweeper deletes items unreferenced for longer than the grace period.

CREATE TABLE media (
    tenant_id           TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                  TEXT NOT NULL,
    uploader_id         TEXT NOT NULL,
    filename            TEXT NOT NULL,
    content_type        TEXT NOT NULL,
    -- Bytes of the original (declared while awaiting a direct upload).
    size                BIGINT NOT NULL,
    -- Bytes counted against the tenant's quota: the original and every rendition.
    stored_bytes        BIGINT NOT NULL DEFAULT 0,
    status              TEXT NOT NULL
        CHECK (status IN ('awaiting_upload', 'pending', 'ready', 'failed', 'deleting')),
    failure             TEXT,
    width               BIGINT,
    height              BIGINT,
    placeholder         TEXT,
    -- JSON array of renditions: variant, content_type, size, width, height.
    variants            TEXT NOT NULL DEFAULT '[]',
    created_at          BIGINT NOT NULL,
    -- The pipeline's lease on a pending item.
    leased_until        BIGINT,
    attempts            BIGINT NOT NULL DEFAULT 0,
    unreferenced_since  BIGINT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, uploader_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX media_pending ON media (created_at) WHERE status = 'pending';
CREATE INDEX media_unreferenced ON media (unreferenced_since) WHERE unreferenced_since IS NOT NULL;

CREATE TABLE message_attachments (
    tenant_id        TEXT NOT NULL,
    message_id       TEXT NOT NULL,
    media_id         TEXT NOT NULL,
    position         BIGINT NOT NULL,
    conversation_id  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, message_id, media_id),
    FOREIGN KEY (tenant_id, message_id) REFERENCES messages (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, media_id) REFERENCES media (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX message_attachments_by_media ON message_attachments (tenant_id, media_id);

CREATE TABLE tenant_storage (
    tenant_id  TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    bytes      BIGINT NOT NULL DEFAULT 0
);

DO $$
DECLARE t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['media', 'message_attachments', 'tenant_storage'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I '
            'USING (tenant_id = current_setting(''chemchat.tenant_id'', true)) '
            'WITH CHECK (tenant_id = current_setting(''chemchat.tenant_id'', true))', t);
    END LOOP;
END $$;

-- The media pipeline and the sweeper are the readers that span tenants: they pick up every
-- tenant's pending and unreferenced items (each row carries its tenant). They opt in per
-- transaction with `chemchat.media_worker`; no request path sets it.
CREATE POLICY media_worker ON media
    USING (current_setting('chemchat.media_worker', true) = 'on')
    WITH CHECK (current_setting('chemchat.media_worker', true) = 'on');
