/**
 * A valid alert for tests and benchmarks: a firing CRITICAL latency alert
 * raised now, with `over` applied and the schema's defaults for the rest.
 *
 * @module
 */
import { type Alert, alertSchema } from "@vigil/shared/schemas/alert";

/** An alert as the detector would publish it; `over` replaces any field. */
export function testAlert(over: Partial<Alert> = {}): Alert {
  const now = new Date().toISOString();
  return alertSchema.parse({
    id: `alert-${crypto.randomUUID().slice(0, 8)}`,
    status: "firing",
    detected_at: now,
    event_time: now,
    type: "metrics",
    rule: "latency_threshold",
    severity: "CRITICAL",
    entity: "checkout",
    title: "p99 latency above 500 ms",
    message: "p99 latency 950 ms > 500 ms",
    score: 950,
    details: { latency_ms: 950, threshold_ms: 500 },
    ...over,
  });
}
