-- 081 (web, web/store.ts entityFacts): GET /api/entities/:entity counts an
-- entity's anomalies (all, open, by type) and their latest times. On the
-- (entity, detected_at) index that read every row of the entity from the heap,
-- one page each: 250 ms for an entity with 13,000 anomalies at 1,000,000 rows,
-- growing with its history. With type, resolved_at and event_time in the index
-- it is an index-only scan: 10 ms. Same key, so the entity's list keeps it; the
-- old index goes. resolved_at is in partial indexes' predicates already, so a
-- resolution was never a HOT update: no extra write.
CREATE INDEX IF NOT EXISTS anomaly_events_entity_cover_idx
  ON anomaly_events (entity, detected_at DESC) INCLUDE (type, resolved_at, event_time);
DROP INDEX IF EXISTS anomaly_events_entity_idx;
