-- 002: silences (Alertmanager-style). Silenced alerts are stored and shown but not sent.
CREATE TABLE silences (
  id          text PRIMARY KEY,
  matchers    jsonb NOT NULL,              -- {type?, rule?, entity?, severity?}: all given must equal
  starts_at   timestamptz NOT NULL DEFAULT now(),
  ends_at     timestamptz NOT NULL,
  author      text NOT NULL,
  comment     text NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL DEFAULT now(),
  expired_at  timestamptz,                 -- set when expired early through the API
  CHECK (ends_at > starts_at)
);
CREATE INDEX silences_active_idx ON silences (ends_at) WHERE expired_at IS NULL;
