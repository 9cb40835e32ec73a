-- 031 (web): keep filtered first pages of GET /api/anomalies fast when a filter
-- combination matches few or no rows (e.g. a rule with another type, a type that
-- never has that severity): without these the planner walks a one-column index
-- ordered by time and filters the whole table (~300 ms at 1M rows; see
-- web/bench/web_bench.ts). With them such pages answer in ~1 ms.
CREATE INDEX anomaly_events_rule_dims_idx
  ON anomaly_events (rule, type, severity, detected_at DESC, id DESC);
CREATE INDEX anomaly_events_type_severity_idx
  ON anomaly_events (type, severity, detected_at DESC, id DESC);
-- A rule implies its type and few severities: tell the planner, so it does not
-- expect a rule/type/severity combination to be as common as their product.
CREATE STATISTICS anomaly_events_dims_stats (mcv, dependencies)
  ON type, rule, severity FROM anomaly_events;
