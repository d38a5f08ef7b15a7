CREATE TABLE xcore_roles (
    name TEXT PRIMARY KEY,
    description TEXT
);
CREATE TABLE xcore_permissions (
    name TEXT PRIMARY KEY,
    description TEXT
);
CREATE TABLE xcore_role_permissions (
    role TEXT NOT NULL REFERENCES xcore_roles (name) ON DELETE CASCADE,
    permission TEXT NOT NULL REFERENCES xcore_permissions (name) ON DELETE CASCADE,
    PRIMARY KEY (role, permission)
);
CREATE TABLE xcore_user_roles (
    user_id BIGINT NOT NULL REFERENCES xcore_users (id) ON DELETE CASCADE,
    role TEXT NOT NULL REFERENCES xcore_roles (name) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role)
);
CREATE TABLE xcore_sessions (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES xcore_users (id) ON DELETE CASCADE,
    revoked BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE TABLE xcore_refresh_tokens (
    hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES xcore_sessions (id) ON DELETE CASCADE,
    used BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL
);
CREATE TABLE xcore_login_failures (
    email TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX xcore_login_failures_by_email ON xcore_login_failures (email, at);
INSERT INTO xcore_roles (name, description) VALUES ('admin', 'Built-in: administers roles, permissions and users');
