-- Tenants, users, devices, login sessions (refresh-token families) and the audit log.
-- Ids are UUID text and times Unix milliseconds, as in the SQLite schema, so one set of queries
-- serves both engines.
--
-- Row-level security is the second wall behind the tenant predicate every query carries: each
-- transaction sets `chemchat.tenant_id`, and FORCE makes the policies apply to the table owner too.

CREATE TABLE tenants (
    id                    TEXT PRIMARY KEY,
    display_name          TEXT NOT NULL,
    tier                  TEXT NOT NULL CHECK (tier IN ('free', 'pro', 'enterprise')),
    max_users             BIGINT,
    max_conversations     BIGINT,
    max_messages_per_day  BIGINT,
    max_storage_bytes     BIGINT,
    max_connections       BIGINT,
    created_at            BIGINT NOT NULL
);

CREATE TABLE users (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id             TEXT NOT NULL,
    username       TEXT NOT NULL,
    email          TEXT NOT NULL,
    display_name   TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    mfa_secret     TEXT,
    mfa_last_step  BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, username),
    UNIQUE (tenant_id, email)
);

CREATE TABLE devices (
    tenant_id     TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    id            TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE sessions (
    tenant_id         TEXT NOT NULL,
    id                TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    device_id         TEXT NOT NULL,
    current_token_id  TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    rotated_at        BIGINT,
    expires_at        BIGINT NOT NULL,
    revoked_at        BIGINT,
    revoked_reason    TEXT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id, device_id) REFERENCES devices (tenant_id, user_id, id) ON DELETE CASCADE
);
CREATE INDEX sessions_by_device ON sessions (tenant_id, user_id, device_id);

CREATE TABLE audit_log (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    at         BIGINT NOT NULL,
    user_id    TEXT,
    action     TEXT NOT NULL,
    ip         TEXT,
    detail     TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_log_by_time ON audit_log (tenant_id, at);

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
    USING (id = current_setting('chemchat.tenant_id', true))
    WITH CHECK (id = current_setting('chemchat.tenant_id', true));

DO $$
DECLARE t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['users', 'devices', 'sessions', 'audit_log'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I '
            'USING (tenant_id = current_setting(''chemchat.tenant_id'', true)) '
            'WITH CHECK (tenant_id = current_setting(''chemchat.tenant_id'', true))', t);
    END LOOP;
END $$;
