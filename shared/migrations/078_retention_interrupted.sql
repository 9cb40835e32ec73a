-- 078 (retention, shared/retention/run.ts): a run cut by shutdown is recorded as
-- 'interrupted' (with the tables it did not finish in `unfinished`), not 'done'.
ALTER TABLE retention_runs DROP CONSTRAINT IF EXISTS retention_runs_outcome_check;
ALTER TABLE retention_runs ADD CONSTRAINT retention_runs_outcome_check
  CHECK (outcome IN ('done', 'failed', 'interrupted'));
