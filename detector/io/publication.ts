/**
 * Publication of stored anomalies. PostgreSQL is the outbox: a row in
 * `anomaly_events` whose `published_at` (or, once resolved,
 * `resolved_published_at`) is NULL is an alert still to publish. There is one
 * way out of it, {@link Publication.publish}: the pipeline hands it the rows
 * it has just stored (with the trace context of their triggering events), and
 * the recovery pass hands it the rows a crash or a timed-out write left
 * unpublished. The Lua script's markers make a second publication of the
 * same alert a no-op, so the two can overlap.
 *
 * Recording the publication does not hold the batch back: it is written in
 * the background, in order, one batch at a time.
 *
 * @module
 */
import type { Logger } from "@vigil/shared/log";
import { withTimeout } from "@vigil/shared/lifecycle";
import { logRetry, retry } from "@vigil/shared/retry";
import type { ScorePoint } from "../core/rules/types.ts";
import { type OutgoingAlert, type Publisher, rowToAlert } from "./publisher.ts";
import type { AnomalyRow, AnomalyStore } from "./store.ts";

/** What one call publishes. */
export interface PublishInput {
  firing: readonly AnomalyRow[];
  resolved: readonly AnomalyRow[];
  scores?: readonly ScorePoint[];
  /** Stage timestamps added to the firing alerts (e.g. `stored`). */
  stages?: Record<string, number>;
  /** The traceparent each firing alert carries, by anomaly id. */
  traceparents?: ReadonlyMap<string, string>;
}

/** The detector's one publication path. */
export interface Publication {
  /** Publish (retrying until Redis accepts or `signal` aborts); returns the alerts sent. */
  publish(input: PublishInput, signal: AbortSignal): Promise<OutgoingAlert[]>;
  /** Publish what the outbox still holds (rows older than `minAgeMs`). */
  recover(signal: AbortSignal, minAgeMs?: number): Promise<number>;
  /** Wait for the publication records being written. */
  flush(): Promise<void>;
}

/** Create the publication over `publisher` (Redis) and `store` (the PostgreSQL outbox). */
export function createPublication(options: {
  publisher: Publisher;
  store: AnomalyStore;
  log: Logger;
  /** Each Redis/PostgreSQL call fails after this long (then it is retried). @default {10000} */
  ioTimeoutMs?: number;
  onRetry?: (op: string) => void;
  now?: () => number;
}): Publication {
  const { publisher, store, log } = options;
  const now = options.now ?? Date.now;
  const timeoutMs = options.ioTimeoutMs ?? 10_000;
  let marking: Promise<void> = Promise.resolve();

  const io = <T>(op: string, fn: () => Promise<T>, signal: AbortSignal): Promise<T> =>
    retry(() => withTimeout(fn(), timeoutMs, op), {
      signal,
      baseMs: 200,
      capMs: 5000,
      onRetry: logRetry(log, op, () => options.onRetry?.(op)),
    });

  async function publish(input: PublishInput, signal: AbortSignal): Promise<OutgoingAlert[]> {
    // A row resolved before its firing was published (stored by an instance that stopped before
    // publishing it, e.g. the previous lease holder) goes out firing first, whichever path
    // resolved it (a unit's batch, the stream watch): published later by the outbox, the firing
    // would follow its resolution and stay open at the notifier.
    const announced = new Set(input.firing.map((r) => r.id));
    const unannounced = input.resolved.filter((r) =>
      r.published_at === null && !announced.has(r.id)
    );
    const firing = unannounced.length > 0 ? [...input.firing, ...unannounced] : input.firing;
    const alerts: OutgoingAlert[] = [
      ...firing.map((r) => rowToAlert(r, "firing", input.stages ?? {})),
      ...input.resolved.map((r) => rowToAlert(r, "resolved", {})),
    ];
    for (const a of alerts) {
      const tp = a.alert.status === "firing" ? input.traceparents?.get(a.alert.id) : undefined;
      if (tp) a.alert.traceparent = tp;
    }
    const scores = input.scores ?? [];
    if (alerts.length === 0 && scores.length === 0) return [];
    await io("publish alerts", () => publisher.publish(alerts, scores), signal);
    if (alerts.length > 0) {
      const at = now();
      const firingIds = firing.map((r) => r.id);
      const resolvedIds = input.resolved.map((r) => r.id);
      marking = marking.then(() =>
        io("record publication", () => store.markPublished(firingIds, resolvedIds, at), signal)
          .then(() => {}, (error) => log.warn("publication not recorded", { error }))
      );
    }
    return alerts;
  }

  return {
    publish,
    async recover(signal, minAgeMs = 0) {
      let total = 0;
      for (;;) {
        const { firing, resolved: unpublished } = await io(
          "read the outbox",
          () => store.unpublished(500, minAgeMs),
          signal,
        );
        // A resolution goes out with its firing or after it, never first (the notifier would
        // take the firing that follows for a new alert): one whose firing is still in the
        // outbox, past this pass or too young, waits for it.
        const ids = new Set(firing.map((r) => r.id));
        const resolved = unpublished.filter((r) => r.published_at !== null || ids.has(r.id));
        if (firing.length === 0 && resolved.length === 0) return total;
        await publish({ firing, resolved }, signal);
        await marking;
        total += firing.length + resolved.length;
        log.info("outbox: published stored anomalies", { rows: firing.length + resolved.length });
        if (firing.length < 500 && unpublished.length < 500) return total;
      }
    },
    flush: () => marking,
  };
}
