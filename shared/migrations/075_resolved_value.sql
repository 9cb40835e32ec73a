-- 075 (issue 17 point 7): what an anomaly resolved at. The observed value that
-- cleared its condition (e.g. the latency back under the threshold) and that
-- reading in the firing details' keys, for the digests' resolved rows. NULL
-- when the rule does not know it (resolved by time, by a sweep).
ALTER TABLE anomaly_events
  ADD COLUMN IF NOT EXISTS resolved_value double precision,
  ADD COLUMN IF NOT EXISTS resolved_details jsonb;
