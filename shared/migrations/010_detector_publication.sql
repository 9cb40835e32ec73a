-- 010 (detector): publication state, so a crash between storing an anomaly and
-- publishing its alert re-publishes it on recovery (exactly once, see
-- detector/publisher.ts), and an index for trace lookups.
ALTER TABLE anomaly_events
  ADD COLUMN published_at timestamptz,           -- firing alert appended to the alerts stream
  ADD COLUMN resolved_published_at timestamptz;  -- resolved alert appended
CREATE INDEX anomaly_events_unpublished_idx ON anomaly_events (detected_at)
  WHERE published_at IS NULL;
CREATE INDEX anomaly_events_unpublished_resolved_idx ON anomaly_events (resolved_at)
  WHERE resolved_at IS NOT NULL AND resolved_published_at IS NULL;
CREATE INDEX anomaly_events_trace_idx ON anomaly_events (trace_id) WHERE trace_id IS NOT NULL;
