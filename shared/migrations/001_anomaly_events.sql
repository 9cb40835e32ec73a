-- 001: anomalies found by the detector.
CREATE TABLE anomaly_events (
  id            text PRIMARY KEY,              -- deterministic: a redelivery maps to the same id
  detected_at   timestamptz NOT NULL DEFAULT now(),
  event_time    timestamptz NOT NULL,
  type          text NOT NULL CHECK (type IN ('logs', 'metrics', 'transactions')),
  rule          text NOT NULL,
  severity      text NOT NULL CHECK (severity IN ('INFO', 'WARNING', 'CRITICAL')),
  entity        text NOT NULL,
  title         text NOT NULL,
  message       text NOT NULL,
  score         double precision,
  stream_ids    text[] NOT NULL DEFAULT '{}',  -- Redis stream ids of the triggering events
  evidence      jsonb NOT NULL DEFAULT '[]',   -- [{stream, stream_id, topic, partition, offset}]
  details       jsonb NOT NULL DEFAULT '{}',   -- values, window, thresholds, explanation
  resolved_at   timestamptz,
  trace_id      text,
  stages        jsonb NOT NULL DEFAULT '{}',   -- {event, ingest, stored, published, notified} ms
  acknowledged_at timestamptz,
  acknowledged_by text,
  ack_comment   text
);
CREATE INDEX anomaly_events_detected_idx ON anomaly_events (detected_at DESC, id DESC);
CREATE INDEX anomaly_events_type_idx ON anomaly_events (type, detected_at DESC);
CREATE INDEX anomaly_events_severity_idx ON anomaly_events (severity, detected_at DESC);
CREATE INDEX anomaly_events_entity_idx ON anomaly_events (entity, detected_at DESC);
CREATE INDEX anomaly_events_rule_idx ON anomaly_events (rule, detected_at DESC);
CREATE INDEX anomaly_events_open_idx ON anomaly_events (rule, entity) WHERE resolved_at IS NULL;
