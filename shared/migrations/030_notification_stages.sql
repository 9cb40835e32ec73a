-- 030 (observability): per-stage timestamps of each notification, per alert:
-- {"<alert id>": {"event", "ingest", "stored", "published", "notified"} (ms)},
-- written when the channel accepted the digest (`notified` = that moment).
ALTER TABLE notifications ADD COLUMN stages jsonb NOT NULL DEFAULT '{}';
