-- 079 (retention, shared/retention/run.ts): the tables a run could not prune (an
-- error: a lock not had within 5 s, a table missing), so a 'failed' run says which.
ALTER TABLE retention_runs ADD COLUMN IF NOT EXISTS failed text[] NOT NULL DEFAULT '{}';
