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
    size                INTEGER NOT NULL,
    -- Bytes counted against the tenant's quota: the original and every rendition.
    stored_bytes        INTEGER NOT NULL DEFAULT 0,
    status              TEXT NOT NULL
        CHECK (status IN ('awaiting_upload', 'pending', 'ready', 'failed', 'deleting')),
    failure             TEXT,
    width               INTEGER,
    height              INTEGER,
    placeholder         TEXT,
    -- JSON array of renditions: variant, content_type, size, width, height.
    variants            TEXT NOT NULL DEFAULT '[]',
    created_at          INTEGER NOT NULL,
    -- The pipeline's lease on a pending item.
    leased_until        INTEGER,
    attempts            INTEGER NOT NULL DEFAULT 0,
    unreferenced_since  INTEGER,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, uploader_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX media_pending ON media (created_at) WHERE status = 'pending';
CREATE INDEX media_unreferenced ON media (unreferenced_since) WHERE unreferenced_since IS NOT NULL;

CREATE TABLE message_attachments (
    tenant_id        TEXT NOT NULL,
    message_id       TEXT NOT NULL,
    media_id         TEXT NOT NULL,
    position         INTEGER NOT NULL,
    conversation_id  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, message_id, media_id),
    FOREIGN KEY (tenant_id, message_id) REFERENCES messages (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, media_id) REFERENCES media (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX message_attachments_by_media ON message_attachments (tenant_id, media_id);

CREATE TABLE tenant_storage (
    tenant_id  TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    bytes      INTEGER NOT NULL DEFAULT 0
) STRICT;
