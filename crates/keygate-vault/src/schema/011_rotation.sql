-- Rotation that runs itself (issue 12): a credential's grace and the version kept for
-- rollback, and the rotation in flight (its stable attempt id), authenticated like the
-- credential row (see rows.rs). A credential from before has no row until it is next changed.
CREATE TABLE credential_rotation (
    name               TEXT PRIMARY KEY REFERENCES credential(name) ON DELETE CASCADE,
    grace_secs         INTEGER NOT NULL,  -- how long the previous version stays after a rotation
    previous_version   INTEGER,           -- the rollback target, kept until previous_until
    previous_until     INTEGER,           -- unix millis: then erased (and revoked at the provider)
    attempt            TEXT,              -- the rotation in flight, stable across its retries
    attempt_started_at INTEGER,
    mac                BLOB
) WITHOUT ROWID;

-- What the provider says of a version: its key id (to revoke it) and when it expires.
ALTER TABLE credential_version ADD COLUMN provider_id TEXT;
ALTER TABLE credential_version ADD COLUMN expires_at INTEGER;
