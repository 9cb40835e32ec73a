-- 076 (retention, shared/retention/run.ts): one row per retention run that took
-- the lock (done or failed), written by the runner where it counts its metrics;
-- the runner keeps only the last RETENTION_RUNS_KEPT rows. Read by the web's
-- GET /api/system/retention (the page's System panel).
CREATE TABLE IF NOT EXISTS retention_runs (
  id          bigserial PRIMARY KEY,
  started_at  timestamptz NOT NULL,
  finished_at timestamptz NOT NULL,
  outcome     text NOT NULL CHECK (outcome IN ('done', 'failed')),
  deleted     jsonb NOT NULL,        -- rows deleted by table
  unfinished  text[] NOT NULL,       -- tables whose batch budget ran out
  ages_ms     jsonb NOT NULL,        -- configured age by table (0 = kept forever)
  interval_ms bigint                 -- time to the next run; null when unknown
);
CREATE INDEX IF NOT EXISTS retention_runs_started_idx ON retention_runs (started_at DESC);
