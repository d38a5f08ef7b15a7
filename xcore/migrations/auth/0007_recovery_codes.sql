-- Single-use recovery codes of the second factor, stored as SHA-256
-- hashes of the user and the code; spent by deleting the row.
CREATE TABLE xcore_recovery_codes (
    user_id BIGINT NOT NULL REFERENCES xcore_users (id) ON DELETE CASCADE,
    hash TEXT NOT NULL,
    PRIMARY KEY (user_id, hash)
);
