/**
 * The producer's run loop: paces the generator (or a replayed CSV) at the
 * requested rate, injects scenarios, sends through the batching Kafka sink,
 * shows progress and stops on `--count`, `--duration` or the abort signal,
 * flushing what is buffered (bounded by a timeout).
 *
 * @module
 */
import { type EventType } from "@vigil/shared/schemas/event";
import { SpanKind } from "@opentelemetry/api";
import { traceFields, traceparentOf, type Tracer } from "@vigil/shared/telemetry";
import { type Logger } from "@vigil/shared/log";
import { sleep, withTimeout } from "@vigil/shared/lifecycle";
import type { ProducerOptions } from "./cli.ts";
import type { ProducerMetrics } from "./metrics.ts";
import { createGenerator } from "./generator.ts";
import { type ExpectedAnomaly, type ScenarioName } from "./scenario_types.ts";
import { type BatchProducer, createKafkaSink, type KafkaSinkOptions } from "./kafka_sink.ts";
import { openReplay } from "./replay_source.ts";
import { replayMessages } from "./replay.ts";
import { transactionsSummary } from "./replay_source.ts";
import { createStatusReporter, type StatusOutput } from "./status.ts";
import { abortAfter, sendUntil } from "./waits.ts";

/** Dependencies of {@link runProducer}. */
export interface ProducerDeps {
  /** A connected kafkajs producer (only `sendBatch` is used). */
  producer: BatchProducer;
  log: Logger;
  metrics?: ProducerMetrics;
  /** Progress output. @default no live line; JSON progress logs */
  output?: StatusOutput;
  /** @default {Date.now} */
  now?: () => number;
  /** A span per message and per scenario when given (tracing on). @default none */
  tracer?: Tracer;
}

/** Tuning of {@link runProducer} (config from the environment). */
export interface RunTuning {
  sink?: Pick<
    KafkaSinkOptions,
    "lingerMs" | "maxBatch" | "maxInFlight" | "retries" | "retryBaseMs"
  >;
  /** Bound on the final flush. @default {5000} */
  flushTimeoutMs?: number;
  /**
   * Most injections the summary lists (the newest): `up`'s producer injects one every
   * `--scenario-every` for as long as it runs, and kept them all. @default {KEPT_SCENARIOS}
   */
  keptScenarios?: number;
}

/** Injections a summary lists at most (the newest; ~1 KB each). */
export const KEPT_SCENARIOS = 1000;

/** One scenario injection, as reported in the summary. */
export interface InjectedScenario {
  name: ScenarioName;
  at: number;
  messages: number;
  /** The trace its messages carry (the scenario span's when traced, else the generator's). */
  traceId: string;
  expected: ExpectedAnomaly[];
}

/** What a run did. */
export interface RunSummary {
  /** Messages acknowledged by Kafka (normal, replayed and scenario). */
  sent: number;
  /** Messages given up after every retry. */
  errors: number;
  /** Messages still buffered or in flight when the flush timed out. */
  undelivered: number;
  byTopic: Record<EventType, number>;
  /** Normal or replayed messages generated (what `--count` counts). */
  generated: number;
  /** The newest injections, at most `keptScenarios`. */
  scenarios: InjectedScenario[];
  /** Every injection of the run. */
  scenarioCount: number;
  elapsedMs: number;
  /** True when every generated message was acknowledged. */
  ok: boolean;
  /**
   * True when the caller's signal (Ctrl-C) stopped a run that has an end of its own (a
   * replay's last row, `--count`, `--duration`) before that end; an open-ended run is never.
   */
  interrupted: boolean;
}

const CHUNK = 1000;
const TICK_MS = 10;
/** How often the progress is offered a redraw besides each loop turn (a terminal redraws every 250 ms). */
const PROGRESS_TICK_MS = 250;

/** The name a replayed file is known by (the `vigil-replay` header): its base name; `-` is stdin. */
const replaySource = (file: string) => file === "-" ? "stdin" : file.split("/").at(-1) ?? file;

/**
 * Run the producer until `--count`, `--duration`, the end of a replay or
 * `signal`. Never throws for delivery problems: they are in the summary.
 *
 * @throws {Error} when the replay file cannot be read or parsed (mid-file: after the rows
 * before it are flushed and the summary logged)
 */
export async function runProducer(
  deps: ProducerDeps,
  options: ProducerOptions & RunTuning,
  signal: AbortSignal,
): Promise<RunSummary> {
  const now = deps.now ?? Date.now;
  const log = deps.log;
  const metrics = deps.metrics;
  const sink = createKafkaSink({
    producer: deps.producer,
    log,
    ...options.sink,
    ...(metrics ? { metrics } : {}),
    ...(deps.tracer ? { tracer: deps.tracer } : {}),
  });
  const gen = createGenerator({
    seed: options.seed,
    users: options.users,
    scenarios: options.scenarios,
  });
  const status = createStatusReporter({
    output: deps.output ?? { isTerminal: false, write: () => {} },
    log,
    now,
  });
  const start = now();
  const deadline = options.durationMs !== undefined ? start + options.durationMs : Infinity;
  const limit = options.count ?? Infinity;
  const injected: InjectedScenario[] = [];
  const kept = Math.max(0, options.keptScenarios ?? KEPT_SCENARIOS);
  let scenarioCount = 0;
  let generated = 0;
  /** The run reached its own end: the replay's last row, `--count` or `--duration`. */
  let ended = false;
  let nextScenarioAt = options.scenarios.length ? start : Infinity;
  let onceLeft = options.scenarioEveryMs === 0 ? options.scenarios.length : Infinity;
  const snapshot = () => ({ ...sink.stats(), scenarios: scenarioCount });

  // The run stops at the caller's signal or at --duration, also while a send waits on Kafka.
  const duration = new AbortController();
  const stop = AbortSignal.any([signal, duration.signal]);
  /** Inject the scenarios due at `t`; false when the run stopped while one waited on Kafka. */
  const injectDue = async (t: number): Promise<boolean> => {
    while (t >= nextScenarioAt && onceLeft > 0) {
      const name = gen.nextScenario();
      if (!name) break;
      const inj = gen.scenario(name, t);
      // One root span per injection; every message's span is its child.
      const span = deps.tracer?.startSpan(`scenario ${name}`, {
        kind: SpanKind.INTERNAL,
        attributes: { "vigil.scenario": name, "vigil.messages": inj.messages.length },
      });
      const root = span && traceparentOf(span);
      if (root) { for (const m of inj.messages) m.parentTraceparent = root; }
      const sent = await sendUntil(sink.send(inj.messages), stop);
      span?.end();
      // Traced, the messages carry the scenario span's trace; else the generator's.
      const traceId = span?.spanContext().traceId ?? inj.traceId;
      metrics?.scenario(name);
      injected.push({
        name,
        at: t,
        messages: inj.messages.length,
        traceId,
        expected: inj.expected,
      });
      scenarioCount++;
      if (injected.length > kept) injected.splice(0, injected.length - kept);
      log.info("scenario injected", {
        ...(span ? traceFields(span) : { trace_id: traceId }),
        scenario: name,
        messages: inj.messages.length,
        expected: inj.expected,
      });
      onceLeft--;
      nextScenarioAt = options.scenarioEveryMs === 0 ? nextScenarioAt : t + options.scenarioEveryMs;
      if (!sent) return false;
    }
    return true;
  };

  log.info("producer started", {
    mode: options.replay ? "replay" : "generate",
    // A replay is paced by --speed; --rate does not apply to it.
    ...(options.replay
      ? { file: replaySource(options.replay.file), speed: options.replay.speed }
      : { rate: options.rate }),
    count: options.count ?? null,
    duration_ms: options.durationMs ?? null,
    scenarios: options.scenarios,
    seed: options.seed,
    users: options.users,
    linger_ms: options.sink?.lingerMs ?? null,
  });

  const cancelTimer = Number.isFinite(deadline)
    ? abortAfter(deadline - start, duration, new Error("duration reached"))
    : undefined;
  // While a send waits on Kafka the progress goes on (0/s, pending growing); it froze on the last rate.
  const ticker = setInterval(() => status.update(snapshot()), PROGRESS_TICK_MS);
  /** A replay that fails mid-file (the file changed): what it sent is still flushed and told. */
  let failure: { error: unknown } | undefined;
  try {
    if (options.replay) {
      const r = options.replay;
      const data = r.data ?? await openReplay(r.file, r);
      if (data.kind === "transactions") {
        log.info("replaying raw transactions, one event each", transactionsSummary(data));
      }
      for await (
        const batch of replayMessages(
          data,
          { ...r, seed: options.seed, source: replaySource(r.file), now },
          stop,
        )
      ) {
        const take = batch.length <= limit - generated ? batch : batch.slice(0, limit - generated);
        if (!(await injectDue(now()))) break;
        const sent = await sendUntil(sink.send(take), stop);
        generated += take.length;
        status.update(snapshot());
        if (!sent || generated >= limit || now() >= deadline) break;
      }
      ended = !signal.aborted || generated >= limit || now() >= deadline;
    } else {
      // Pacing: `base`/`baseCount` anchor the schedule; when the loop falls more than a
      // second behind (stall, backpressure) the schedule is re-anchored instead of bursting.
      let base = start;
      let baseCount = 0;
      while (!signal.aborted && generated < limit) {
        const t = now();
        if (t >= deadline) break;
        if (!(await injectDue(t))) break;
        let n: number;
        if (options.rate === "max") {
          n = CHUNK;
        } else {
          let due = Math.floor(((t - base) * options.rate) / 1000) + 1 - (generated - baseCount);
          if (due > options.rate + 1) {
            log.debug("behind schedule, re-anchoring", { behind: due });
            base = t;
            baseCount = generated;
            due = 1;
          }
          n = Math.min(due, CHUNK);
        }
        n = Math.min(n, limit - generated);
        if (n > 0) {
          // Before: a Kafka that stopped answering held this send, and `--duration 4m` ran 11 min.
          const sent = await sendUntil(sink.send(gen.normal(t, n)), stop);
          generated += n;
          if (!sent) break;
        }
        status.update(snapshot());
        if (options.rate === "max") {
          await sleep(0, signal).catch(() => {}); // let timers and I/O run (Ctrl-C: at once)
        } else if (n < CHUNK) {
          const nextDue = base + ((generated - baseCount) * 1000) / options.rate;
          const wait = Math.min(Math.max(TICK_MS, nextDue - now()), nextScenarioAt - now(), 1000);
          await sleep(Math.max(TICK_MS, wait), signal).catch(() => {});
        }
      }
      ended = generated >= limit || now() >= deadline;
    }
  } catch (error) {
    failure = { error };
  } finally {
    cancelTimer?.();
    clearInterval(ticker);
  }

  const flushTimeoutMs = options.flushTimeoutMs ?? 5000;
  try {
    await withTimeout(sink.flush(), flushTimeoutMs, "flush the Kafka producer");
  } catch (error) {
    log.error("Cannot flush: giving up on pending messages", {
      pending: sink.stats().pending,
      error,
    });
  }
  const stats = sink.stats();
  status.finish(snapshot());
  const summary: RunSummary = {
    sent: stats.sent,
    errors: stats.errors,
    undelivered: stats.pending,
    byTopic: stats.byTopic,
    generated,
    scenarios: injected,
    scenarioCount,
    elapsedMs: now() - start,
    ok: stats.errors === 0 && stats.pending === 0,
    interrupted: signal.aborted && !ended &&
      (options.replay !== undefined || limit < Infinity || deadline < Infinity),
  };
  log.info("producer stopped", {
    sent: summary.sent,
    errors: summary.errors,
    undelivered: summary.undelivered,
    generated,
    scenarios: scenarioCount,
    elapsed_ms: summary.elapsedMs,
    ...(summary.interrupted ? { interrupted: true } : {}),
  });
  if (failure) throw failure.error;
  return summary;
}
