/**
 * Fixtures of the notifier batcher's unit tests and benchmark: a clock, a route, alerts,
 * stream items.
 *
 * @module
 */
import type { Alert } from "@vigil/shared/schemas/alert";
import { testAlert } from "./alert.ts";
import {
  type BatcherOptions,
  type BatcherState,
  emptyState,
  ingest,
  type IngestItem,
  nextDueAt,
  tick,
} from "@vigil/notifier/batcher";
import type { Route } from "@vigil/notifier/routes";

export const T0 = Date.parse("2025-03-01T10:20:00Z");
export const S = 1000;
export const M = 60 * S;
export const H = 60 * M;

export const ROUTE: Route = {
  name: "default",
  match: {},
  channels: ["email", "discord"],
  groupBy: ["type", "severity"],
  groupWaitMs: 30 * S,
  groupIntervalMs: 60 * S,
  repeatIntervalMs: 4 * H,
  criticalImmediate: false,
};
export const OPTS: BatcherOptions = { routes: [ROUTE], flapThreshold: 4 };

let seq = 0;
/** A firing WARNING alert at T0 (schema defaults for the rest), with `over` applied. */
export function alert(over: Partial<Alert> = {}): Alert {
  const id = over.id ?? `a${++seq}`;
  const at = new Date(T0).toISOString();
  const base = testAlert({
    id,
    detected_at: at,
    event_time: at,
    type: "metrics",
    rule: "cpu_high",
    severity: "WARNING",
    entity: `svc-${id}`,
    title: "CPU high",
    message: "cpu 97% > 90%",
    score: null,
    details: {},
  });
  return { ...base, ...over };
}
let sid = 0;
export function item(a: Alert): IngestItem {
  return { streamId: `${T0}-${++sid}`, alert: a };
}

/** Ingest then tick at `now`; returns state and digests from both. */
export function step(state: BatcherState, items: IngestItem[], now: number, opts = OPTS) {
  const a = ingest(state, items, now, opts);
  const b = tick(a.state, now, opts);
  return {
    state: b.state,
    digests: [...a.digests, ...b.digests],
    settled: [...a.settled, ...b.settled],
  };
}

const STORM_OPTS: BatcherOptions = { routes: [{ ...ROUTE, groupBy: [] }] };

/**
 * The alert storm of `notifier/batcher_scale_test.ts` and `notifier/batcher_bench.ts`: `n` held
 * alerts, half CRITICAL, a quarter WARNINGs of their entities (inhibited), a quarter WARNINGs of
 * others.
 */
export function stormState(n: number) {
  const items = Array.from({ length: n }, (_, i) =>
    item(alert({
      id: `s${i}`,
      entity: i < n / 2 ? `svc${i}` : i < (3 * n) / 4 ? `svc${i - n / 2}` : `other${i}`,
      severity: i < n / 2 ? "CRITICAL" : "WARNING",
    })));
  const state = ingest(emptyState(), items, T0, STORM_OPTS).state;
  return { state, due: nextDueAt(state, STORM_OPTS)!, opts: STORM_OPTS };
}
