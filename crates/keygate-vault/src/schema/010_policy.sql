-- Argument rules and approval (issue 14), per grant and per plain token: a JSON text
-- `{"allow": [...], "approve": true}` (keygate_policy::StoredPolicy), NULL when there is none.
-- Covered by the row's MAC only when present, so rows written before stay verified and a
-- policy added or erased behind Keygate's back is refused like any other change.
ALTER TABLE agent_grant ADD COLUMN policy TEXT;
ALTER TABLE token ADD COLUMN policy TEXT;
