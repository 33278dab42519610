-- OAuth 2.1 for MCP clients (Keygate's loopback server is also the authorization server).
-- Codes and refresh tokens are stored only as SHA-256 hashes; the secrets exist only in the
-- answer that hands them to the client.

-- Clients registered by RFC 7591 dynamic registration (public clients, PKCE only).
CREATE TABLE oauth_client (
    id            TEXT PRIMARY KEY,     -- client_id
    name          TEXT NOT NULL,        -- client_name as the client gave it (shown escaped)
    redirect_uris TEXT NOT NULL,        -- JSON array, matched exactly
    created_at    INTEGER NOT NULL,     -- unix millis
    last_used_at  INTEGER NOT NULL
);

-- Authorization requests waiting for the person on the consent page (a few minutes).
CREATE TABLE oauth_consent (
    id             TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL REFERENCES oauth_client(id) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    state          TEXT,
    resource       TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
);

-- Authorization codes: single use, short-lived, bound to client, redirect URI, PKCE
-- challenge, resource and the grant the person chose.
CREATE TABLE oauth_code (
    hash           BLOB PRIMARY KEY,
    client_id      TEXT NOT NULL REFERENCES oauth_client(id) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    resource       TEXT NOT NULL,
    grant_name     TEXT NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER,
    family_id      TEXT                 -- the session its redemption started (revoked on reuse)
);

-- A refresh family: one sign-in of one client under one grant, across every rotation.
CREATE TABLE oauth_family (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES oauth_client(id) ON DELETE CASCADE,
    grant_name TEXT NOT NULL,
    grant_id   INTEGER,                 -- the grant its first token was minted under
    resource   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    revoked_why TEXT
);

-- Refresh tokens of a family; `used_at` set when rotated: a second use is a replay.
CREATE TABLE oauth_refresh (
    hash       BLOB PRIMARY KEY,
    family_id  TEXT NOT NULL REFERENCES oauth_family(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX oauth_refresh_family ON oauth_refresh(family_id);

-- The access tokens minted in a family, so revoking the family revokes them.
CREATE TABLE oauth_family_token (
    family_id TEXT NOT NULL REFERENCES oauth_family(id) ON DELETE CASCADE,
    token_id  TEXT NOT NULL REFERENCES token(id) ON DELETE CASCADE,
    PRIMARY KEY (family_id, token_id)
);
