-- Client configs Keygate edited (`keygate client connect|disconnect`). Each write keeps the
-- file as it was, sealed: it may hold other servers' plaintext keys, so no plaintext copy is
-- ever kept beside it. `record` says what Keygate wrote, to recognise its entry later.
CREATE TABLE client_config (
    id         TEXT PRIMARY KEY,           -- random; the sealed original is bound to it
    client     TEXT NOT NULL,              -- the client's id (cursor, claude-code, ...)
    path       TEXT NOT NULL,              -- the config file
    action     TEXT NOT NULL CHECK (action IN ('connect', 'disconnect')),
    record     TEXT NOT NULL,              -- JSON of what Keygate wrote; nothing secret
    sealed     BLOB,                       -- the file before the write; NULL: there was none
    at         INTEGER NOT NULL
);
CREATE INDEX client_config_by_file ON client_config (client, path);
