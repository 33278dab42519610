-- Authenticated rows and chained logs (see rows.rs, chain.rs). Every MAC is an HMAC-SHA256
-- under a key derived from the master key; NULL only until the upgrade step in Rust fills it.
ALTER TABLE token ADD COLUMN mac BLOB;
ALTER TABLE agent_grant ADD COLUMN mac BLOB;
ALTER TABLE credential ADD COLUMN mac BLOB;
ALTER TABLE tool_pin ADD COLUMN mac BLOB;
-- The chain MAC (previous row's MAC and this row's content) and the seal of what is
-- written after the row (status, duration), bound to the chain MAC.
ALTER TABLE audit ADD COLUMN mac BLOB;
ALTER TABLE audit ADD COLUMN seal BLOB;
ALTER TABLE rotation_log ADD COLUMN mac BLOB;
