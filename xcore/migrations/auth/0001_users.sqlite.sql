CREATE TABLE xcore_users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    auth_version BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
