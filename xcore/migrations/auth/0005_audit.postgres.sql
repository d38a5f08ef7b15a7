-- Who did what: written in the same transaction as the change it records.
CREATE TABLE xcore_audit (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    event TEXT NOT NULL,
    actor BIGINT,
    subject BIGINT,
    address TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX xcore_audit_by_subject ON xcore_audit (subject, id);
CREATE INDEX xcore_audit_by_actor ON xcore_audit (actor, id);
CREATE INDEX xcore_audit_by_event ON xcore_audit (event, id);
