/**
 * The producer's metrics (`vigil_producer_*`) and its `kafka` health check,
 * fed by the Kafka sink's batch callbacks.
 *
 * @module
 */
import { type EventType } from "@vigil/shared/schemas/event";
import { errorMessage } from "@vigil/shared/log";
import { declareMetrics, type Registry } from "@vigil/shared/metrics";
import type { HealthDetail } from "@vigil/shared/http/ops_app";
import type { ScenarioName } from "./scenario_types.ts";

/** Producer metrics (`vigil_producer_*`) plus a health signal. */
export interface ProducerMetrics {
  sent(topic: EventType, n: number): void;
  /** Batch `id` was given up (`n` messages) on `error`. */
  error(n: number, error: unknown, id: number): void;
  scenario(name: ScenarioName): void;
  /** Batch `id`'s first attempt began (ids are the sink's: several may be in flight). */
  batchStarted(id: number): void;
  /** Batch `id` was acknowledged. */
  batch(seconds: number, size: number, id: number): void;
  /**
   * The health check: fails while the latest batch outcome was a failure
   * (saying how many batches were given up since the last acknowledgement,
   * since when and the last error), and while a batch has waited
   * {@link STALLED_BATCH_MS} for Kafka's acknowledgement (a broker that
   * stalls keeps its connections open, and kafkajs gives up on a request
   * only after 30 s, then retries).
   */
  health(): boolean | HealthDetail;
}

/** How long a batch may wait for Kafka's acknowledgement before the health check fails. */
export const STALLED_BATCH_MS = 15_000;

/** Register the producer's metrics on `registry`. */
export function createProducerMetrics(
  registry: Registry,
  now: () => number = Date.now,
): ProducerMetrics {
  const { events, errors, scenarios, batches, batchSize } = declareMetrics(registry, {
    events: {
      kind: "counter",
      name: "vigil_producer_events_total",
      help: "Events acknowledged by Kafka, by type",
      labels: ["type"],
    },
    errors: {
      kind: "counter",
      name: "vigil_producer_errors_total",
      help: "Events that could not be delivered after every retry",
    },
    scenarios: {
      kind: "counter",
      name: "vigil_producer_scenarios_total",
      help: "Anomaly scenarios injected, by scenario",
      labels: ["scenario"],
    },
    batches: {
      kind: "histogram",
      name: "vigil_producer_batch_seconds",
      help: "Duration of one sendBatch (acks=all)",
    },
    batchSize: {
      kind: "histogram",
      name: "vigil_producer_batch_size",
      help: "Messages per sendBatch",
      buckets: [1, 10, 100, 500, 1000, 5000],
    },
  });
  /** Start times of the batches in flight by id, oldest first (Map order). */
  const waiting = new Map<number, number>();
  /** Batches given up since the last acknowledgement: since when, how many, the last error. */
  let failing: { since: number; batches: number; events: number; error: string } | undefined;
  /** When a batch was last acknowledged. */
  let ackedAt = -Infinity;
  const toSeconds = (ms: number) => Math.round(ms / 1000);
  return {
    sent: (topic, n) => events.inc({ type: topic }, n),
    error: (n, error, id) => {
      errors.inc(n);
      // Not acknowledged since its start, or since another batch was (more than one in flight).
      const since = Math.max(waiting.get(id) ?? now(), ackedAt);
      waiting.delete(id);
      failing ??= { since, batches: 0, events: 0, error: "" };
      failing.batches++;
      failing.events += n;
      failing.error = errorMessage(error).slice(0, 500);
    },
    scenario: (name) => scenarios.inc({ scenario: name }),
    batchStarted: (id) => void waiting.set(id, now()),
    batch: (seconds, size, id) => {
      batches.observe(seconds);
      batchSize.observe(size);
      waiting.delete(id);
      failing = undefined;
      ackedAt = now();
    },
    health() {
      if (failing) {
        const { batches: n, events: e } = failing;
        const given = `${n} ${n === 1 ? "batch" : "batches"} (${e.toLocaleString("en-US")} events)`;
        const waited = toSeconds(now() - failing.since);
        return {
          status: "fail",
          message:
            `Kafka has not acknowledged a batch for ${waited} s: ${given} given up after every retry`,
          error: failing.error,
        };
      }
      const oldest = waiting.values().next();
      const waitedMs = oldest.done ? 0 : now() - oldest.value;
      if (waitedMs <= STALLED_BATCH_MS) return true;
      return {
        status: "fail",
        message: `Kafka has not acknowledged a batch for ${toSeconds(waitedMs)} s`,
      };
    },
  };
}
