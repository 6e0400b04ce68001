-- Proving an address and recovering an account: single-use tokens sent by email. Only a hash
-- of each token is stored, so a copy of the database opens no account; a token is bound to
-- the address it was sent to, so one sent before an address changed proves nothing.

ALTER TABLE users ADD COLUMN email_verified_at INTEGER;

CREATE TABLE account_tokens (
    tenant_id   TEXT NOT NULL,
    token_hash  TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    purpose     TEXT NOT NULL CHECK (purpose IN ('password_reset', 'email_verification')),
    email       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    PRIMARY KEY (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX account_tokens_by_user ON account_tokens (tenant_id, user_id, purpose);

