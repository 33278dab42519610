-- Team credentials (OpenBao KV v2): which local credentials are copies of a team secret, and
-- the team version each copy holds. The credential itself (its sealed versions, due date,
-- rotation log) is an ordinary local credential; this row says where it comes from, and sync
-- only ever replaces or deletes credentials that have one. Authenticated like the others.
CREATE TABLE team_credential (
    name         TEXT PRIMARY KEY REFERENCES credential(name) ON DELETE CASCADE,
    team_version INTEGER NOT NULL,
    synced_at    INTEGER NOT NULL,
    mac          BLOB
);
