-- 065 (retention, shared/retention/): every table retention prunes has an index
-- that leads with its time column, so a batch finds its oldest rows by an index
-- range scan (never a scan of the whole table while services insert). Already
-- there: anomaly_events (detected_at), notifier_digests (created_at),
-- notifier_alerts (received_at); children are found by their leading key
-- (notifications' primary key, notifier_digest_entries_digest_idx).
CREATE INDEX IF NOT EXISTS notification_attempts_at_idx ON notification_attempts (at);
CREATE INDEX IF NOT EXISTS silences_ends_idx ON silences (ends_at);
