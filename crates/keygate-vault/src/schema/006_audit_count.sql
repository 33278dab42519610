-- Denied calls and failed authentications are aggregated (one row stands for `count` of them
-- within a minute), so a caller cannot grow the audit by one row per refused request.
-- Rows are only ever inserted with their count; an allowed call's row always has count 1.
ALTER TABLE audit ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
