-- Registration by invitation: a tenant is open (anyone may register) or invite-only, and its
-- administrators make invitations — a code shown once, kept here only as its SHA-256, good
-- until it expires, is revoked or has admitted its number of registrations.

ALTER TABLE tenant_settings ADD COLUMN registration TEXT NOT NULL DEFAULT 'open'
    CHECK (registration IN ('open', 'invite'));

CREATE TABLE invites (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    code_hash   TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    max_uses    INTEGER,
    uses        INTEGER NOT NULL DEFAULT 0,
    revoked_at  INTEGER,
    note        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code_hash),
    FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX invites_by_time ON invites (tenant_id, created_at, id);
