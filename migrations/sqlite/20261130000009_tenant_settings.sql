-- A tenant's settings that its administrators change: for now the content policy (blocked words
-- and patterns, each a JSON array of strings, and whether caught text is refused or masked).

CREATE TABLE tenant_settings (
    tenant_id         TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    content_mode      TEXT NOT NULL DEFAULT 'reject' CHECK (content_mode IN ('reject', 'mask')),
    blocked_words     TEXT NOT NULL DEFAULT '[]',
    blocked_patterns  TEXT NOT NULL DEFAULT '[]',
    updated_at        INTEGER NOT NULL
);
