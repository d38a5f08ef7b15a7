-- Proof that the account holds its address, and the single-use links sent
-- to it (password reset, address verification): stored as SHA-256 hashes,
-- one live link per user and purpose, deleted when used.
ALTER TABLE xcore_users ADD COLUMN email_verified BIGINT NOT NULL DEFAULT 0;
CREATE TABLE xcore_account_links (
    hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES xcore_users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX xcore_account_links_by_user ON xcore_account_links (user_id, purpose);
