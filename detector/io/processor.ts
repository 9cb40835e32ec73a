/**
 * The batch handler of one stream: parse → evaluate (all rules, in order) →
 * store anomalies → publish alerts and scores → (consumer acknowledges) →
 * checkpoint. Storage and publishing are retried with backoff until they
 * succeed (PostgreSQL or Redis down): the consumer acknowledges nothing before
 * that, and the evaluation is never repeated for the same batch.
 *
 * @module
 */
import { SpanKind } from "@opentelemetry/api";
import type { Logger } from "@vigil/shared/log";
import type { Registry } from "@vigil/shared/metrics";
import type { EventType } from "@vigil/shared/schemas/event";
import {
  contextOf,
  failSpan,
  type Span,
  startBatchSpan,
  traceFields,
  traceparentOf,
  type Tracer,
} from "@vigil/shared/telemetry";
import { retrying as retryingWithBackoff, withTimeout } from "@vigil/shared/lifecycle";
import type { BatchHandler, Delivery } from "./consumer.ts";
import type { CheckpointStore } from "./checkpoint.ts";
import { type Evaluator, parseEntry } from "../core/evaluator.ts";
import { type OutgoingAlert, type Publisher, rowToAlert } from "./publisher.ts";
import { stringifyYielding } from "./json_yielding.ts";
import type { AnomalyStore } from "./store.ts";
import type { Firing, Resolution } from "../core/rules/types.ts";

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
  };
}

/** Options of {@link createProcessor}. */
export interface ProcessorOptions {
  type: EventType;
  evaluator: Evaluator;
  store: AnomalyStore;
  publisher: Publisher;
  checkpoints: CheckpointStore;
  log: Logger;
  metrics: DetectorMetrics;
  /** Checkpoint at most this often. @default {2000} */
  checkpointIntervalMs?: number;
  /** Attempts of a rule step that throws before the entry is dead-lettered. @default {5} */
  maxAttempts?: number;
  /** Each storage/publish call fails after this long (then it is retried). @default {10000} */
  ioTimeoutMs?: number;
  now?: () => number;
  /**
   * When given (tracing on): a `detect <type>` consumer span per batch,
   * linked to its live entries' `traceparent` (their creation contexts), and
   * an `anomaly <rule>` span per new anomaly, child of its triggering entry's
   * `traceparent`, whose context the alert carries. Absent: no span is made.
   */
  tracer?: Tracer;
}

/** The value of `name` in a flat `[k, v, …]` stream entry. */
function fieldOf(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** The batch handler plus what the HTTP API reads. */
export interface Processor extends BatchHandler {
  readonly evaluator: Evaluator;
  /** Wait for the checkpoint and publication records being written, if any. */
  flush(): Promise<void>;
}

/** Create the handler of one stream. */
export function createProcessor(options: ProcessorOptions): Processor {
  const { type, evaluator, store, publisher, checkpoints, metrics } = options;
  const log = options.log.with({ type });
  const now = options.now ?? Date.now;
  const interval = options.checkpointIntervalMs ?? 2000;
  const maxAttempts = options.maxAttempts ?? 5;
  const ioTimeoutMs = options.ioTimeoutMs ?? 10_000;
  const tracer = options.tracer;
  let lastCheckpoint = 0;
  /** Last committed id not covered by a checkpoint yet. */
  let unsaved: string | null = null;
  /** Publication records being written, in order (see `effects`). */
  let marking: Promise<void> = Promise.resolve();
  /** The checkpoint being written (at most one at a time, so they land in order). */
  let inflight: Promise<void> | null = null;

  /**
   * Checkpoint the state as of `lastId`: the snapshot is taken now (between
   * two batches of this stream, so it is exactly the state up to `lastId`);
   * serialising and writing it run in the background while the next batches
   * are processed.
   */
  function save(lastId: string, t: number): void {
    lastCheckpoint = t;
    unsaved = null;
    const snapshot = evaluator.snapshot();
    inflight = (async () => {
      try {
        const state = await stringifyYielding(snapshot);
        await checkpoints.save({ lastId, state, savedAt: t });
      } catch (error) {
        // Not fatal: the next checkpoint covers it; a crash meanwhile replays a little more.
        unsaved ??= lastId;
        log.warn("cannot save checkpoint", { error });
      } finally {
        inflight = null;
      }
    })();
  }

  // Every call is idempotent, so a timed-out attempt that completes late is harmless.
  const retrying = <T>(op: string, fn: () => Promise<T>, signal: AbortSignal): Promise<T> =>
    retryingWithBackoff(op, () => withTimeout(fn(), ioTimeoutMs, op), {
      signal,
      log,
      baseMs: 200,
      capMs: 5000,
      onRetry: () => metrics.retries.inc({ op }),
    });

  /**
   * The traceparent each new anomaly continues: its newest evidence entry
   * (in this batch) of the same trace.
   */
  function triggerOf(
    row: { stream_ids: string[]; trace_id: string | null },
    batch: ReadonlyMap<string, Delivery>,
  ): string | undefined {
    for (let i = row.stream_ids.length - 1; i >= 0; i--) {
      const id = row.stream_ids[i]!;
      const d = batch.get(id);
      const tp = d ? fieldOf(d.fields, "traceparent") : undefined;
      if (tp && tp.slice(3, 35) === row.trace_id) return tp;
    }
    return undefined;
  }

  async function effects(
    firings: Firing[],
    resolutions: Resolution[],
    scores: ReturnType<Evaluator["sink"]>["scores"],
    signal: AbortSignal,
    batch: readonly Delivery[],
  ): Promise<void> {
    if (firings.length === 0 && resolutions.length === 0 && scores.length === 0) return;
    const storeStarted = tracer ? performance.timeOrigin + performance.now() : 0;
    const created = await retrying("store anomalies", () => store.insert(firings), signal);
    const resolvedRows = await retrying(
      "resolve anomalies",
      () => store.resolve(resolutions),
      signal,
    );
    const storedAt = now();
    for (const row of created) {
      if (!row.created) continue;
      metrics.anomalies.inc({ rule: row.rule, severity: row.severity });
      metrics.eventToStored.observe(
        { type },
        Math.max(0, storedAt - row.event_time.getTime()) / 1000,
      );
    }
    for (const row of resolvedRows) {
      if (row.created) metrics.resolved.inc({ rule: row.rule, severity: row.severity });
    }
    const alerts: OutgoingAlert[] = [
      ...created.map((r) => rowToAlert(r, "firing", { stored: storedAt })),
      ...resolvedRows.map((r) => rowToAlert(r, "resolved", {})),
    ];
    // Each new anomaly continues its triggering event's trace; the alert carries the context.
    const anomalySpans: Span[] = [];
    if (created.some((r) => r.created)) {
      const byId = new Map(batch.map((d) => [d.id, d]));
      for (let i = 0; i < created.length; i++) {
        const row = created[i]!;
        if (!row.created) continue;
        const parent = triggerOf(row, byId);
        let traceparent = parent;
        if (tracer) {
          const span = tracer.startSpan(`anomaly ${row.rule}`, {
            startTime: storeStarted,
            attributes: {
              "vigil.anomaly.id": row.id,
              "vigil.rule": row.rule,
              "vigil.severity": row.severity,
              "vigil.type": row.type,
            },
          }, contextOf(parent));
          anomalySpans.push(span);
          traceparent = traceparentOf(span) ?? parent;
        }
        if (traceparent) alerts[i]!.alert.traceparent = traceparent;
        log.info("anomaly raised", {
          ...traceFields(traceparent),
          anomaly_id: row.id,
          rule: row.rule,
          severity: row.severity,
        });
      }
    }
    await retrying("publish alerts", () => publisher.publish(alerts, scores), signal);
    const publishedAt = now();
    for (const span of anomalySpans) span.end();
    for (const a of alerts) {
      if (a.alert.status !== "firing") continue;
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
      // Recording the publication does not hold the batch back: the rows are
      // stored and the alerts published (which the acknowledgement waits
      // for); until it lands, the recovery pass may publish them again, which
      // the publish script's markers turn into a no-op. In order, one at a time.
      const firingIds = created.map((r) => r.id);
      const resolvedIds = resolvedRows.map((r) => r.id);
      marking = marking.then(() =>
        retrying(
          "record publication",
          () => store.markPublished(firingIds, resolvedIds, publishedAt),
          signal,
        ).then(() => {}, (error) => log.warn("publication not recorded", { error }))
      );
      log.info("anomalies stored and published", {
        new: created.length,
        resolved: resolvedRows.length,
        rules: [...new Set(created.map((r) => r.rule))],
      });
    }
  }

  return {
    evaluator,
    async restore() {
      try {
        const c = await checkpoints.load();
        if (!c) {
          log.info("no checkpoint: windows are rebuilt from the stream");
          return null;
        }
        evaluator.load(c.state);
        log.info("checkpoint restored", {
          last_id: c.lastId,
          saved_at: new Date(c.savedAt).toISOString(),
        });
        return c.lastId;
      } catch (error) {
        log.error("cannot restore checkpoint, rebuilding from the stream", { error });
        return null;
      }
    },
    async process(batch: readonly Delivery[], signal) {
      const started = now();
      const sink = evaluator.sink();
      const dead: { id: string; reason: string }[] = [];
      let live = 0;
      const startTime = tracer ? performance.timeOrigin + performance.now() : 0;
      const contexts: (string | undefined)[] | null = tracer ? [] : null;
      for (const d of batch) {
        const parsed = parseEntry(type, d.id, d.fields);
        if (!parsed.ok) {
          if (d.live) dead.push({ id: d.id, reason: parsed.reason });
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
            dead.push({
              id: d.id,
              reason: `rule evaluation failed ${maxAttempts} times: ${
                (error as Error)?.message ?? error
              }`,
            });
          }
          continue;
        }
        if (d.live) {
          live++;
          contexts?.push(parsed.entry.traceparent);
        } else {
          // Already acknowledged, so its anomalies are stored: rebuild state only.
          sink.findings.length = mark;
          sink.scores.length = scoreMark;
        }
      }
      // Sweeping is idempotent (resolutions update only open rows), so keep its output.
      evaluator.sweep(sink);
      if (live > 0) {
        metrics.events.inc({ type }, live);
        for (const rule of evaluator.ruleNames) metrics.ruleEvaluations.inc({ type, rule }, live);
      }
      const firings: Firing[] = [];
      const resolutions: Resolution[] = [];
      for (const f of sink.findings) {
        if (f.kind === "firing") firings.push(f);
        else if (f.ids.length > 0) resolutions.push(f);
      }
      const span = contexts && live > 0
        ? startBatchSpan(tracer!, `detect ${type}`, contexts, {
          kind: SpanKind.CONSUMER,
          startTime,
          attributes: {
            "messaging.operation.type": "process",
            "messaging.batch.message_count": live,
          },
        })
        : undefined;
      try {
        await effects(firings, resolutions, sink.scores, signal, batch);
      } catch (error) {
        if (span) failSpan(span, error).end();
        throw error;
      }
      span?.end();
      if (dead.length > 0) metrics.deadLetters.inc({ type }, dead.length);
      metrics.batchSeconds.observe({ type }, (now() - started) / 1000);
      return dead;
    },
    committed(lastId, force) {
      const t = now();
      if (inflight !== null || (!force && t - lastCheckpoint < interval)) unsaved = lastId;
      else save(lastId, t);
      return Promise.resolve();
    },
    async idle() {
      if (inflight !== null) await inflight;
      if (unsaved !== null) save(unsaved, now());
    },
    async flush() {
      while (inflight !== null) await inflight;
      await marking;
    },
  };
}
