-- API keys: `xk_<id>_<secret>`, found by their id, checked against the
-- SHA-256 hash of the whole key. `permissions` is a JSON list, or NULL for
-- a key that carries its owner's roles and permissions as they are.
CREATE TABLE xcore_api_keys (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES xcore_users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    hash TEXT NOT NULL,
    permissions TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT
);
CREATE INDEX xcore_api_keys_by_user ON xcore_api_keys (user_id);
