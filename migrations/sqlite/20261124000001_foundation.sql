-- Tenants, users, devices, login sessions (refresh-token families) and the audit log.
-- Ids are UUID text, times are Unix milliseconds: the same representation as the PostgreSQL schema,
-- so one set of queries serves both engines.

CREATE TABLE tenants (
    id                    TEXT PRIMARY KEY,
    display_name          TEXT NOT NULL,
    tier                  TEXT NOT NULL CHECK (tier IN ('free', 'pro', 'enterprise')),
    max_users             INTEGER,
    max_conversations     INTEGER,
    max_messages_per_day  INTEGER,
    max_storage_bytes     INTEGER,
    max_connections       INTEGER,
    created_at            INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id             TEXT NOT NULL,
    username       TEXT NOT NULL,
    email          TEXT NOT NULL,
    display_name   TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    mfa_secret     TEXT,
    mfa_last_step  INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, username),
    UNIQUE (tenant_id, email)
) STRICT;

CREATE TABLE devices (
    tenant_id     TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    id            TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE sessions (
    tenant_id         TEXT NOT NULL,
    id                TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    device_id         TEXT NOT NULL,
    current_token_id  TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    rotated_at        INTEGER,
    expires_at        INTEGER NOT NULL,
    revoked_at        INTEGER,
    revoked_reason    TEXT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id, device_id) REFERENCES devices (tenant_id, user_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX sessions_by_device ON sessions (tenant_id, user_id, device_id);

CREATE TABLE audit_log (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    at         INTEGER NOT NULL,
    user_id    TEXT,
    action     TEXT NOT NULL,
    ip         TEXT,
    detail     TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE INDEX audit_log_by_time ON audit_log (tenant_id, at);
