/**
 * The detector's metrics (one set per process, shared by its streams).
 *
 * @module
 */
import type { Registry } from "@vigil/shared/metrics";

/** Metrics of the detector (one set per process, shared by the streams). */
export interface DetectorMetrics {
  events: ReturnType<Registry["counter"]>;
  ruleEvaluations: ReturnType<Registry["counter"]>;
  anomalies: ReturnType<Registry["counter"]>;
  resolved: ReturnType<Registry["counter"]>;
  deadLetters: ReturnType<Registry["counter"]>;
  retries: ReturnType<Registry["counter"]>;
  eventToStored: ReturnType<Registry["histogram"]>;
  eventToPublished: ReturnType<Registry["histogram"]>;
  ingestToPublished: ReturnType<Registry["histogram"]>;
  batchSeconds: ReturnType<Registry["histogram"]>;
  evicted: ReturnType<Registry["counter"]>;
}

/** Register the detector's metrics on `registry`. */
export function createDetectorMetrics(registry: Registry): DetectorMetrics {
  return {
    events: registry.counter("vigil_detector_events_total", "Events evaluated", ["type"]),
    ruleEvaluations: registry.counter(
      "vigil_detector_rule_evaluations_total",
      "Events evaluated by each rule (every rule of a type sees every event of it)",
      ["type", "rule"],
    ),
    anomalies: registry.counter(
      "vigil_detector_anomalies_total",
      "New anomalies stored",
      ["rule", "severity"],
    ),
    resolved: registry.counter(
      "vigil_detector_resolved_total",
      "Anomalies resolved",
      ["rule", "severity"],
    ),
    deadLetters: registry.counter(
      "vigil_detector_dead_letters_total",
      "Stream entries moved to the dead-letter stream",
      ["type"],
    ),
    retries: registry.counter(
      "vigil_detector_retries_total",
      "Storage/publish attempts that failed and were retried",
      ["op"],
    ),
    eventToStored: registry.histogram(
      "vigil_detector_event_to_stored_seconds",
      "Event timestamp to anomaly row stored",
      ["type"],
    ),
    eventToPublished: registry.histogram(
      "vigil_detector_event_to_published_seconds",
      "Event timestamp to alert published",
      ["type"],
    ),
    ingestToPublished: registry.histogram(
      "vigil_detector_ingest_to_published_seconds",
      "Bridge ingest (stream append) to alert published",
      ["type"],
    ),
    batchSeconds: registry.histogram(
      "vigil_detector_batch_seconds",
      "Time to evaluate, store and publish one batch",
      ["type"],
    ),
    evicted: registry.counter(
      "vigil_detector_state_evicted_total",
      "Entities or series forgotten by the state limits (DETECTOR_MAX_*, DETECTOR_SERIES_IDLE_TTL)",
      ["type", "rule"],
    ),
  };
}
