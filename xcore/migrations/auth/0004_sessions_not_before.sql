-- Sessions cannot outlive a revocation: ending every session of a user
-- raises `session_epoch`; a session opened under an older epoch (a login
-- that was already past its checks) is refused by refresh and the guard.
ALTER TABLE xcore_users ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE xcore_sessions ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;
-- Login failures are counted in the cache now, before the password is
-- checked (atomic there, on every backend).
DROP TABLE xcore_login_failures;
