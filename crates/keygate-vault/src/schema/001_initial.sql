-- Vault identity and the key check value (sealed with the master key).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE credential (
    name            TEXT PRIMARY KEY,
    current_version INTEGER NOT NULL,
    max_age_days    INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,  -- unix millis
    rotated_at      INTEGER            -- when the current version replaced another
) WITHOUT ROWID;

-- Each version sealed with AES-256-GCM, bound to (vault id, name, version).
CREATE TABLE credential_version (
    name       TEXT NOT NULL REFERENCES credential(name) ON DELETE CASCADE,
    version    INTEGER NOT NULL,
    sealed     BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (name, version)
) WITHOUT ROWID;

CREATE TABLE rotation_log (
    id           INTEGER PRIMARY KEY,
    at           INTEGER NOT NULL,
    credential   TEXT NOT NULL,
    action       TEXT NOT NULL,
    from_version INTEGER,
    to_version   INTEGER,
    actor        TEXT NOT NULL
);

-- Only the SHA-256 of a token's secret part is kept; the token itself is shown once.
CREATE TABLE token (
    id           TEXT PRIMARY KEY,
    secret_hash  BLOB NOT NULL,
    label        TEXT,
    tools        TEXT NOT NULL,        -- space-separated tool names
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    last_used_at INTEGER,
    uses         INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE audit (
    id                 INTEGER PRIMARY KEY,
    at                 INTEGER NOT NULL,
    token_id           TEXT,
    tool               TEXT NOT NULL,
    credential         TEXT,
    credential_version INTEGER,
    decision           TEXT NOT NULL,
    status             TEXT,
    duration_ms        INTEGER
);
