-- 040 (notifier): alerts are acknowledged on the stream as soon as they are
-- committed here (PostgreSQL is the outbox of their delivery), so the
-- per-alert acknowledgement record goes; the pending-alerts gauge reads
-- recent alerts by arrival.
DROP INDEX IF EXISTS notifier_alerts_unacked_idx;
ALTER TABLE notifier_alerts DROP COLUMN IF EXISTS acked_at;
CREATE INDEX IF NOT EXISTS notifier_alerts_received_idx ON notifier_alerts (received_at);
