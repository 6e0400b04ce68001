-- People: tenant roles, account status, profiles, and an audit trail that says to whom and from
-- which client.
--
-- `name_key` is the display name lower-cased by the server, so the directory matches a prefix
-- of it the same way on both engines (SQLite's lower() folds ASCII only).

ALTER TABLE users ADD COLUMN tenant_role TEXT NOT NULL DEFAULT 'member'
    CHECK (tenant_role IN ('owner', 'admin', 'moderator', 'member'));
ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CHECK (status IN ('active', 'suspended', 'banned'));
-- When a suspension ends, Unix milliseconds; set exactly when status is 'suspended'.
ALTER TABLE users ADD COLUMN suspended_until INTEGER;
ALTER TABLE users ADD COLUMN status_text TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN avatar_media_id TEXT;
ALTER TABLE users ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
UPDATE users SET name_key = lower(display_name);
CREATE INDEX users_by_name_key ON users (tenant_id, name_key);
CREATE INDEX users_by_avatar ON users (tenant_id, avatar_media_id);

ALTER TABLE audit_log ADD COLUMN target TEXT;
ALTER TABLE audit_log ADD COLUMN user_agent TEXT;
CREATE INDEX audit_log_by_actor ON audit_log (tenant_id, user_id, at);
CREATE INDEX audit_log_by_action ON audit_log (tenant_id, action, at);
CREATE INDEX audit_log_by_target ON audit_log (tenant_id, target, at);
