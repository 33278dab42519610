-- The team version behind each local version of a team copy, and in each audit row the team
-- version the call used (issue 15: "each machine's audit records the team version used").
-- NULL for local credentials and for rows written before: the credential row's MAC and the
-- audit chain cover the value only when present, so existing MACs stay valid.
ALTER TABLE credential_version ADD COLUMN team_version INTEGER;
ALTER TABLE audit ADD COLUMN team_version INTEGER;
