/**
 * The persist stage: new anomalies and resolutions into PostgreSQL.
 * Transient failures (connection lost, timeout) are retried until they
 * succeed or the detector stops; nothing is acknowledged meanwhile. A
 * permanent one (the data of an anomaly cannot be stored, e.g. a NUL in its
 * entity: {@link isDataError}) is retried 3 times, then the batch is
 * split in halves until the items that fail alone are found: those are
 * returned as rejected, the rest is stored.
 *
 * @module
 */
import { withTimeout } from "@vigil/shared/lifecycle";
import type { Logger } from "@vigil/shared/log";
import { isDataError } from "@vigil/shared/postgres_errors";
import { logRetry, retry } from "@vigil/shared/retry";
import type { Firing, Resolution } from "../core/rules/types.ts";
import type { AnomalyRow, AnomalyStore } from "./store.ts";

/** What one batch stored. */
export interface Persisted {
  /** Rows inserted now (a redelivered batch inserts nothing). */
  created: AnomalyRow[];
  /** Rows resolved now. */
  resolved: AnomalyRow[];
  /** Firings and resolutions that can never be stored, with the error. */
  rejected: { item: Firing | Resolution; error: unknown }[];
}

/** Options of {@link createPersistStage}. */
export interface PersistOptions {
  store: AnomalyStore;
  log: Logger;
  /** Each call fails after this long (then it is retried). @default {10000} */
  ioTimeoutMs?: number;
  onRetry?: (op: string) => void;
}

/** Create the stage. */
export function createPersistStage(options: PersistOptions) {
  const { store, log } = options;
  const timeoutMs = options.ioTimeoutMs ?? 10_000;
  /** Attempts of a call failing with a data error before the items are split. */
  const attempts = 3;

  return async function persist(
    firings: readonly Firing[],
    resolutions: readonly Resolution[],
    stream: string,
    signal: AbortSignal,
  ): Promise<Persisted> {
    /**
     * Whether a call of this persist was retried (an attempt may have committed late). One per
     * persist: the stage is shared by every unit's pipeline, the API's dispatch and the stream
     * watch, which run concurrently.
     */
    let retried = false;

    async function call<T, R>(
      op: string,
      fn: (items: readonly T[]) => Promise<R[]>,
      items: readonly T[],
    ): Promise<R[]> {
      for (let n = 1;; n++) {
        try {
          return await retry(() => withTimeout(fn(items), timeoutMs, op), {
            signal,
            baseMs: 200,
            capMs: 5000,
            isRetryable: (e) => !isDataError(e),
            onRetry: logRetry(log, op, () => {
              retried = true;
              options.onRetry?.(op);
            }),
          });
        } catch (error) {
          if (signal.aborted || !isDataError(error) || n >= attempts) throw error;
          log.warn(`cannot ${op}: the data is refused, retrying`, { error, attempt: n });
        }
      }
    }

    /** Store `items`; isolate and return those refused for good. */
    async function isolate<T, R>(
      op: string,
      fn: (items: readonly T[]) => Promise<R[]>,
      items: readonly T[],
    ): Promise<{ rows: R[]; rejected: { item: T; error: unknown }[] }> {
      if (items.length === 0) return { rows: [], rejected: [] };
      try {
        return { rows: await call(op, fn, items), rejected: [] };
      } catch (error) {
        if (signal.aborted || !isDataError(error)) throw error;
        if (items.length === 1) {
          log.error(`cannot ${op}: refused for good`, { error });
          return { rows: [], rejected: [{ item: items[0]!, error }] };
        }
        const half = Math.ceil(items.length / 2);
        const a = await isolate(op, fn, items.slice(0, half));
        const b = await isolate(op, fn, items.slice(half));
        return { rows: [...a.rows, ...b.rows], rejected: [...a.rejected, ...b.rejected] };
      }
    }

    const ins = await isolate("store anomalies", (f) => store.insert(f, stream), firings);
    const res = await isolate("resolve anomalies", (r) => store.resolve(r), resolutions);
    const created = ins.rows, resolved = res.rows;
    if (retried) {
      // A timed-out attempt may have committed: what it stored is ours to publish too.
      const have = new Set([...created, ...resolved].map((r) => r.id));
      const ids = new Set<string>();
      for (const f of firings) if (!have.has(f.id)) ids.add(f.id);
      for (const r of resolutions) for (const id of r.ids) if (!have.has(id)) ids.add(id);
      const late = await call(
        "read late writes",
        (i) => store.unpublishedIn(i).then((x) => [x]),
        [...ids],
      );
      created.push(...late[0]!.firing);
      resolved.push(...late[0]!.resolved);
    }
    return { created, resolved, rejected: [...ins.rejected, ...res.rejected] };
  };
}

/** The persist stage's function. */
export type PersistStage = ReturnType<typeof createPersistStage>;
