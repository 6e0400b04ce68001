-- A tenant's settings that its administrators change: for now the content policy (blocked words
-- and patterns, each a JSON array of strings, and whether caught text is refused or masked).

CREATE TABLE tenant_settings (
    tenant_id         TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    content_mode      TEXT NOT NULL DEFAULT 'reject' CHECK (content_mode IN ('reject', 'mask')),
    blocked_words     TEXT NOT NULL DEFAULT '[]',
    blocked_patterns  TEXT NOT NULL DEFAULT '[]',
    updated_at        BIGINT NOT NULL
);

ALTER TABLE tenant_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_settings
    USING (tenant_id = current_setting('chemchat.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('chemchat.tenant_id', true));
