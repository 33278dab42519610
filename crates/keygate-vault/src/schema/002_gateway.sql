-- Gateway: each downstream MCP server's tools, pinned by the SHA-256 of their definition.
-- A tool whose seen definition differs from the approved one (or that has none approved yet)
-- is quarantined until approved.
CREATE TABLE tool_pin (
    server              TEXT NOT NULL,
    tool                TEXT NOT NULL,
    seen_sha256         BLOB NOT NULL,
    seen_definition     TEXT NOT NULL,     -- canonical JSON of the tool as last listed
    approved_sha256     BLOB,              -- NULL: never approved (new after the first listing)
    approved_definition TEXT,
    listed              INTEGER NOT NULL,  -- 1 if the server's last listing had it
    first_seen          INTEGER NOT NULL,
    changed_at          INTEGER NOT NULL,
    PRIMARY KEY (server, tool)
) WITHOUT ROWID;

-- The downstream server a gateway call went to (NULL for [[tool]] HTTP calls).
ALTER TABLE audit ADD COLUMN server TEXT;
