-- Proving an address and recovering an account: single-use tokens sent by email. Only a hash
-- of each token is stored, so a copy of the database opens no account; a token is bound to
-- the address it was sent to, so one sent before an address changed proves nothing.

ALTER TABLE users ADD COLUMN email_verified_at BIGINT;

CREATE TABLE account_tokens (
    tenant_id   TEXT NOT NULL,
    token_hash  TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    purpose     TEXT NOT NULL CHECK (purpose IN ('password_reset', 'email_verification')),
    email       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    PRIMARY KEY (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX account_tokens_by_user ON account_tokens (tenant_id, user_id, purpose);

ALTER TABLE account_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE account_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON account_tokens
    USING (tenant_id = current_setting('chemchat.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('chemchat.tenant_id', true));
