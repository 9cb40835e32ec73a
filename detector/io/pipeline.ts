/**
 * The handler of one event stream, in stages:
 *
 * 1. **evaluate** (pure, `detector/core`): every entry through the stream's
 *    rules, in stream order; replayed entries (`live: false`, already
 *    acknowledged) only rebuild state. An entry that is not an event, or
 *    whose rules throw `maxAttempts` times, is dead-lettered.
 * 2. **persist**: new anomalies and resolutions into PostgreSQL, which is the
 *    outbox (persist.ts); an anomaly whose data can never be stored gets its
 *    triggering entry dead-lettered with the error, the rest goes on.
 * 3. **publish**: alerts built from the rows just stored, carrying their
 *    triggering event's trace context, plus the recent scores (publication.ts).
 * 4. **checkpoint**: after the consumer acknowledged the batch (checkpoint.ts).
 *
 * Before stage 1 the `fence` renews this instance's lease on the stream; a
 * lost lease stops the unit before the batch changes any state.
 *
 * Stages 2 and 3 retry until they succeed: the consumer acknowledges nothing
 * before, and the evaluation is never repeated for the same batch.
 *
 * @module
 */
import { errorMessage, type Logger } from "@vigil/shared/log";
import type { StreamKind } from "@vigil/shared/partitions";
import type { BatchHandler, Delivery, Rejected } from "@vigil/shared/stream_consumer";
import { type ParsedEntry, parseEntry, traceIdOf } from "../core/entry.ts";
import type { Evaluator } from "../core/evaluator.ts";
import { collectSink, type Firing, type Resolution } from "../core/rules/types.ts";
import type { Checkpointer } from "./checkpoint.ts";
import type { DetectorMetrics } from "./metrics.ts";
import type { PersistStage } from "./persist.ts";
import type { Publication } from "./publication.ts";
import type { AnomalyRow } from "./store.ts";

/** Spans of the detector (detector/io/tracing.ts implements it on OpenTelemetry). */
export interface PipelineTracing {
  /** A span for the live entries of a batch, linked to their creation contexts. */
  batch(type: StreamKind, entries: readonly ParsedEntry[]): { end(error?: unknown): void };
  /**
   * A span for a new anomaly, child of its triggering event's `parent`
   * traceparent; returns the traceparent the alert carries.
   */
  anomaly(row: AnomalyRow, parent: string | undefined, startMs: number): {
    traceparent: string | undefined;
    end(): void;
  };
}

/** Options of {@link createPipeline}. */
export interface PipelineOptions {
  /** The stream kind (metric label `type`). */
  type: StreamKind;
  /** The stream key (the evidence of anomalies names it). */
  stream: string;
  evaluator: Evaluator;
  persist: PersistStage;
  publication: Publication;
  checkpointer: Checkpointer;
  /**
   * Awaited before each batch, before anything is evaluated: resolves while
   * this instance may consume the stream (it renews its lease), rejects when
   * it may not any more (its consumer stops; the batch is left, unevaluated
   * and unacknowledged, to the lease holder).
   */
  fence?: (signal: AbortSignal) => Promise<void>;
  log: Logger;
  metrics: DetectorMetrics;
  /** Attempts of a rule step that throws before the entry is dead-lettered. @default {5} */
  maxAttempts?: number;
  tracing?: PipelineTracing;
  now?: () => number;
}

/** The batch handler plus what the HTTP API and shutdown need. */
export interface Pipeline extends BatchHandler {
  readonly evaluator: Evaluator;
  /** Wait for the checkpoint and publication records being written. */
  flush(): Promise<void>;
}

/** Create the handler of one stream. */
export function createPipeline(options: PipelineOptions): Pipeline {
  const { type, evaluator, persist, publication, checkpointer, metrics, tracing } = options;
  const log = options.log.with({ type });
  const now = options.now ?? Date.now;
  const maxAttempts = options.maxAttempts ?? 5;

  /** Stage 1. */
  function evaluate(batch: readonly Delivery[]) {
    const sink = collectSink();
    const rejected: Rejected[] = [];
    const live: ParsedEntry[] = [];
    for (const d of batch) {
      const parsed = parseEntry(d.id, d.fields);
      if (!parsed.ok) {
        if (d.live) rejected.push({ id: d.id, reason: parsed.reason });
        continue;
      }
      const mark = sink.findings.length, scoreMark = sink.scores.length;
      let error: unknown = undefined;
      for (let attempt = 1; attempt <= maxAttempts; attempt++) {
        try {
          evaluator.step(parsed.entry, sink);
          error = undefined;
          break;
        } catch (e) {
          error = e;
          sink.findings.length = mark;
          sink.scores.length = scoreMark;
        }
      }
      if (error !== undefined) {
        if (d.live) {
          rejected.push({
            id: d.id,
            reason: `rule evaluation failed ${maxAttempts} times: ${errorMessage(error)}`,
          });
        }
      } else if (d.live) {
        live.push(parsed.entry);
      } else {
        // Already acknowledged, so its anomalies are stored: rebuild state only.
        sink.findings.length = mark;
        sink.scores.length = scoreMark;
      }
    }
    // Sweeping is idempotent (resolutions update only open rows), so keep its output.
    evaluator.sweep(sink);
    const firings: Firing[] = [];
    const resolutions: Resolution[] = [];
    for (const f of sink.findings) {
      if (f.kind === "firing") firings.push(f);
      else if (f.ids.length > 0) resolutions.push(f);
    }
    return { firings, resolutions, scores: sink.scores, live, rejected };
  }

  /**
   * Evictions and late events per rule so far: the state's counts are what it holds (evictions
   * restart at 0 when it is restored, a count rule's late events come back from the checkpoint),
   * so the counters take what was added since the last look, and a restore moves the baseline.
   */
  const soFar = { evicted: new Map<string, number>(), late: new Map<string, number>() };
  function countStateStats(record = true): void {
    for (const stats of evaluator.stateStats()) {
      for (const what of ["evicted", "late"] as const) {
        const total = stats[what] ?? 0;
        const added = total - (soFar[what].get(stats.rule) ?? 0);
        if (record && added > 0) metrics[what].inc({ type, rule: stats.rule }, added);
        soFar[what].set(stats.rule, total);
      }
    }
  }

  /** The traceparent of a new anomaly's triggering event: its newest evidence entry of its trace. */
  function triggerOf(row: AnomalyRow, byId: ReadonlyMap<string, ParsedEntry>) {
    for (let i = row.stream_ids.length - 1; i >= 0; i--) {
      const tp = byId.get(row.stream_ids[i]!)?.traceparent;
      if (tp && traceIdOf(tp) === row.trace_id) return tp;
    }
    return undefined;
  }

  async function process(batch: readonly Delivery[], signal: AbortSignal): Promise<Rejected[]> {
    // Before evaluating: a unit that stops here has changed no state.
    await options.fence?.(signal);
    const started = now();
    const { firings, resolutions, scores, live, rejected } = evaluate(batch);
    countStateStats();
    if (live.length > 0) {
      metrics.events.inc({ type }, live.length);
      for (const rule of evaluator.ruleNames) {
        metrics.ruleEvaluations.inc({ type, rule }, live.length);
      }
    }
    const span = live.length > 0 ? tracing?.batch(type, live) : undefined;
    try {
      // Stage 2.
      const storeStarted = performance.timeOrigin + performance.now();
      const stored = await persist(firings, resolutions, options.stream, signal);
      const storedAt = now();
      // Built only when PostgreSQL refused a finding (rare), not per batch.
      let byId: Map<string, Delivery> | undefined;
      for (const { item, error } of stored.rejected) {
        // The entry that triggered an anomaly that cannot be stored carries the error.
        const trigger = item.kind === "firing" ? item.evidence.at(-1)?.id : undefined;
        byId ??= new Map(batch.map((d) => [d.id, d]));
        if (trigger && byId.get(trigger)?.live && !rejected.some((r) => r.id === trigger)) {
          rejected.push({
            id: trigger,
            reason: `anomaly ${item.rule} of this event cannot be stored: ${errorMessage(error)}`
              .slice(0, 1000),
          });
        }
        log.error("finding refused by PostgreSQL, dropped", {
          rule: item.rule,
          kind: item.kind,
          error,
        });
      }
      for (const row of stored.created) {
        metrics.anomalies.inc({ rule: row.rule, severity: row.severity });
        metrics.eventToStored.observe(
          { type },
          Math.max(0, storedAt - row.event_time.getTime()) / 1000,
        );
      }
      for (const row of stored.resolved) {
        metrics.resolved.inc({ rule: row.rule, severity: row.severity });
      }
      // Stage 3: each new anomaly continues its triggering event's trace.
      const traceparents = new Map<string, string>();
      const anomalySpans: { end(): void }[] = [];
      if (stored.created.length > 0) {
        const entries = new Map(live.map((e) => [e.id, e]));
        for (const row of stored.created) {
          const parent = triggerOf(row, entries);
          const s = tracing?.anomaly(row, parent, storeStarted);
          if (s) anomalySpans.push(s);
          const tp = s ? s.traceparent : parent;
          if (tp) traceparents.set(row.id, tp);
          log.info("anomaly raised", {
            ...(tp ? { trace_id: tp.slice(3, 35), span_id: tp.slice(36, 52) } : {}),
            anomaly_id: row.id,
            rule: row.rule,
            severity: row.severity,
          });
        }
      }
      // A resolved row whose firing was never published goes out firing first (publication.ts).
      const created = new Set(stored.created.map((r) => r.id));
      const alerts = await publication.publish({
        firing: stored.created,
        resolved: stored.resolved,
        scores,
        stages: { stored: storedAt },
        traceparents,
      }, signal);
      const publishedAt = now();
      for (const s of anomalySpans) s.end();
      for (const a of alerts) {
        if (a.alert.status !== "firing" || !created.has(a.alert.id)) continue;
        metrics.eventToPublished.observe(
          { type },
          Math.max(0, publishedAt - Date.parse(a.alert.event_time)) / 1000,
        );
        const ingest = a.alert.stages.ingest;
        if (ingest !== undefined) {
          metrics.ingestToPublished.observe({ type }, Math.max(0, publishedAt - ingest) / 1000);
        }
      }
      if (alerts.length > 0) {
        log.info("anomalies stored and published", {
          new: stored.created.length,
          resolved: stored.resolved.length,
          rules: [...new Set(stored.created.map((r) => r.rule))],
        });
      }
      span?.end();
    } catch (error) {
      span?.end(error);
      throw error;
    }
    if (rejected.length > 0) metrics.deadLetters.inc({ type }, rejected.length);
    metrics.batchSeconds.observe({ type }, (now() - started) / 1000);
    return rejected;
  }

  return {
    evaluator,
    async restore() {
      const restored = await checkpointer.restore();
      countStateStats(false);
      return restored;
    },
    process,
    committed(lastId, force) {
      checkpointer.committed(lastId, force);
      return Promise.resolve();
    },
    idle: () => checkpointer.idle(),
    async flush() {
      await checkpointer.flush();
      await publication.flush();
    },
  };
}
