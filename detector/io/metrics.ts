/**
 * The detector's metrics (one set per process, shared by its streams).
 *
 * @module
 */
import { GROUPS, type Keys } from "@vigil/shared/keys";
import type { Registry } from "@vigil/shared/metrics";
import type { StreamUnit } from "@vigil/shared/partitions";
import type { Redis } from "@vigil/shared/redis";
import { pipelineBySlot } from "@vigil/shared/redis_cluster";
import type { Evaluator } from "../core/evaluator.ts";

/** Register the detector's metrics on `registry`. */
export function createDetectorMetrics(registry: Registry) {
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
    late: registry.counter(
      "vigil_detector_late_events_total",
      "Events a rule ignored as late: behind its window, or older than their series' last reading",
      ["type", "rule"],
    ),
  };
}

/** Metrics of the detector (one set per process, shared by the streams). */
export type DetectorMetrics = ReturnType<typeof createDetectorMetrics>;

/**
 * Gauges of the units consumed here, read at scrape time: stream length and
 * pending entries of each (one pipeline per cluster slot), and the entries
 * each rule holds.
 */
export function registerUnitGauges(
  registry: Registry,
  redis: Redis,
  keys: Keys,
  units: () => Iterable<{ unit: StreamUnit; pipeline: { evaluator: Evaluator } }>,
): void {
  for (
    const [name, help] of [
      ["vigil_detector_stream_length", "Entries in each event stream partition consumed here"],
      ["vigil_detector_pending", "Entries delivered to the detector and not yet acknowledged"],
    ] as const
  ) {
    /** The last value read of each unit: kept while Redis answers its command with an error. */
    let last = new Map<string, number>();
    registry.gauge(name, help, ["type", "partition"], async (g) => {
      const list = [...units()];
      const replies = await pipelineBySlot(
        redis,
        list.map((r) => {
          const key = keys.events(r.unit.kind, r.unit.partition);
          return {
            key,
            add: (p) =>
              name === "vigil_detector_stream_length"
                ? p.xlen(key)
                : p.xpending(key, GROUPS.detector),
          };
        }),
      );
      // Only the units consumed here now: one that moved to another instance is exported there.
      g.reset();
      const read = new Map<string, number>();
      list.forEach((r, i) => {
        const labels = { type: r.unit.kind, partition: String(r.unit.partition) };
        const id = `${labels.type}:${labels.partition}`;
        const [error, value] = replies[i] ?? [];
        // No stream or group yet: nothing in it. Any other error (Redis down longer than ioredis
        // retries): the last value, not a 0 that would read as "caught up".
        const n = !error
          ? Array.isArray(value) ? Number(value[0] ?? 0) : Number(value ?? 0)
          : /^NOGROUP|no such key/i.test(error.message)
          ? 0
          : last.get(id);
        if (n === undefined) return;
        read.set(id, n);
        g.set(labels, n);
      });
      last = read;
    });
  }

  registry.gauge(
    "vigil_detector_state_entries",
    "Entities (windows) or series (metric_score) a rule holds, per stream partition consumed here",
    ["type", "partition", "rule"],
    (g) => {
      g.reset();
      for (const r of units()) {
        for (const { rule, entries } of r.pipeline.evaluator.stateStats()) {
          g.set({ type: r.unit.kind, partition: String(r.unit.partition), rule }, entries);
        }
      }
    },
  );
}
