-- Authenticated OAuth rows (see rows.rs): what the authorization server keeps decides who
-- gets tokens, so each row carries an HMAC-SHA256 of its decisive columns under the rows key.
-- NULL only until the upgrade step in Rust fills it (key check v3).
ALTER TABLE oauth_client ADD COLUMN mac BLOB;
ALTER TABLE oauth_consent ADD COLUMN mac BLOB;
ALTER TABLE oauth_code ADD COLUMN mac BLOB;
ALTER TABLE oauth_family ADD COLUMN mac BLOB;
ALTER TABLE oauth_refresh ADD COLUMN mac BLOB;
ALTER TABLE oauth_family_token ADD COLUMN mac BLOB;
