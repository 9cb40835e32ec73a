-- 020: notifier state. Group membership and digest plans are durable, so a
-- kill -9 loses nothing; `notifications` answers "was I told?".

-- Every alert stream entry the notifier took in, and what became of it.
CREATE TABLE notifier_alerts (
  stream_id   text PRIMARY KEY,                  -- Redis stream id in vigil:alerts
  alert_id    text NOT NULL,
  status      text NOT NULL,                     -- firing | resolved
  type        text NOT NULL,
  rule        text NOT NULL,
  severity    text NOT NULL,
  entity      text NOT NULL,
  alert       jsonb NOT NULL,
  disposition text NOT NULL CHECK (disposition IN ('grouped', 'silenced', 'duplicate')),
  group_key   text,
  silence_id  text,
  received_at timestamptz NOT NULL DEFAULT now(),
  acked_at    timestamptz                        -- XACKed on the stream
);
CREATE INDEX notifier_alerts_alert_idx ON notifier_alerts (alert_id);
CREATE INDEX notifier_alerts_unacked_idx ON notifier_alerts (received_at) WHERE acked_at IS NULL;

-- The batcher's state: one row per aggregation group, plus named blobs (flap history).
CREATE TABLE notifier_groups (
  group_key  text PRIMARY KEY,
  state      jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE notifier_state (
  name       text PRIMARY KEY,
  state      jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- A digest is stored (with its deterministic id and full content) before any send.
CREATE TABLE notifier_digests (
  id         text PRIMARY KEY,
  kind       text NOT NULL,                      -- digest | repeat | immediate
  route      text NOT NULL,
  group_key  text NOT NULL,
  created_at timestamptz NOT NULL,
  alert_ids  text[] NOT NULL,
  trace_ids  text[] NOT NULL DEFAULT '{}',
  digest     jsonb NOT NULL
);
CREATE INDEX notifier_digests_created_idx ON notifier_digests (created_at DESC);
-- Which stream entries a digest accounts for (acknowledged when all its channels are done).
CREATE TABLE notifier_digest_entries (
  stream_id text NOT NULL,
  digest_id text NOT NULL REFERENCES notifier_digests (id) ON DELETE CASCADE,
  PRIMARY KEY (stream_id, digest_id)
);
CREATE INDEX notifier_digest_entries_digest_idx ON notifier_digest_entries (digest_id);

-- One row per digest and channel: the durable "accepted" record, checked before any send.
CREATE TABLE notifications (
  digest_id       text NOT NULL REFERENCES notifier_digests (id) ON DELETE CASCADE,
  channel         text NOT NULL,
  alert_ids       text[] NOT NULL,               -- alerts included
  alert_count     integer NOT NULL,
  trace_ids       text[] NOT NULL DEFAULT '{}',
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
  attempts        integer NOT NULL DEFAULT 0,
  parts_sent      integer NOT NULL DEFAULT 0,    -- multi-message channels resume after these
  error           text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_attempt_at timestamptz,
  sent_at         timestamptz,                   -- = stages.notified of its alerts
  PRIMARY KEY (digest_id, channel)
);
CREATE INDEX notifications_pending_idx ON notifications (channel, created_at) WHERE status = 'pending';
CREATE INDEX notifications_alert_ids_idx ON notifications USING gin (alert_ids);
CREATE INDEX notifications_created_idx ON notifications (created_at DESC);

-- Every send attempt.
CREATE TABLE notification_attempts (
  digest_id   text NOT NULL,
  channel     text NOT NULL,
  attempt     integer NOT NULL,
  at          timestamptz NOT NULL DEFAULT now(),
  ok          boolean NOT NULL,
  retryable   boolean,
  status_code integer,
  error       text,
  duration_ms double precision NOT NULL,
  PRIMARY KEY (digest_id, channel, attempt)
);
