-- TOTP secrets, encrypted (AES-256-GCM, key derived from the app secret).
-- `last_step` is the last accepted time step: a code is never accepted twice.
CREATE TABLE xcore_totp (
    user_id BIGINT PRIMARY KEY REFERENCES xcore_users (id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 0,
    last_step BIGINT NOT NULL DEFAULT -1
);
