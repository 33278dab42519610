-- Grants: a named, revocable standing permission for one agent, under which the running
-- Keygate mints short-lived tokens. A revoked grant stays for the audit; its name may be
-- given to a new grant (a new id), so old tokens never come back to life.
CREATE TABLE agent_grant (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL,
    tools          TEXT NOT NULL,        -- space-separated tool names or SERVER_* patterns
    token_ttl_secs INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,     -- unix millis
    expires_at     INTEGER,              -- NULL: never
    revoked_at     INTEGER,
    tokens_minted  INTEGER NOT NULL DEFAULT 0
);
-- At most one unrevoked grant per name.
CREATE UNIQUE INDEX agent_grant_live_name ON agent_grant(name) WHERE revoked_at IS NULL;
CREATE INDEX agent_grant_name ON agent_grant(name, id);

-- The grant a token was minted under (NULL for tokens made by `keygate token create`).
ALTER TABLE token ADD COLUMN grant_id INTEGER REFERENCES agent_grant(id);
CREATE INDEX token_grant ON token(grant_id) WHERE grant_id IS NOT NULL;
