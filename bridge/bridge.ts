/**
 * The bridge: one Kafka consumer group over the event topics; each message
 * is classified (valid event or dead letter) and appended exactly once to
 * its Redis stream. Per partition batch, every Redis write goes in one
 * pipeline of Lua calls (dedup by topic/partition/offset, atomic with the
 * XADDs); the Kafka offset is committed only after Redis accepted the batch.
 *
 * @module
 */
import type { EachBatchPayload, Kafka } from "kafkajs";
import type { Redis } from "ioredis";
import { GROUPS, type Keys } from "@vigil/shared/keys";
import type { Logger } from "@vigil/shared/log";
import type { Registry } from "@vigil/shared/metrics";
import { backoffMs, sleep, withTimeout } from "@vigil/shared/lifecycle";
import { EVENT_TYPES, TOPICS } from "@vigil/shared/schemas/event";
import type { SpanGroup, Tracer } from "@vigil/shared/tracing";
import {
  type Appender,
  type BatchItem,
  buildAppendCalls,
  createAppender,
  ioredisAppendPort,
} from "./append.ts";
import { classifyMessage } from "./classify.ts";
import { createConsumerGroup } from "@vigil/shared/kafka_group";

/** Bridge settings (from {@link BridgeConfig} or a test). */
export interface BridgeOptions {
  /** Approximate MAXLEN of the streams. @default {1000000} */
  maxlen?: number;
  /** Partitions processed concurrently. @default {4} */
  concurrency?: number;
  /** Messages per script call. @default {500} */
  chunkSize?: number;
  /** Larger values are dead-lettered. @default {1048576} */
  maxEventBytes?: number;
  /** Kafka consumer group. @default {"vigil-bridge"} */
  groupId?: string;
  /** Topics to consume. @default {TOPICS} */
  topics?: readonly string[];
  /** Kafka group session timeout. @default {10000} */
  sessionTimeoutMs?: number;
  /** Bound on the shutdown's drain and disconnect. @default {8000} */
  shutdownTimeoutMs?: number;
}

/** Dependencies of {@link createBridge}. */
export interface BridgeDeps {
  kafka: Pick<Kafka, "consumer">;
  redis: Pick<Redis, "script" | "pipeline" | "ping" | "xlen">;
  keys: Keys;
  log: Logger;
  metrics: Registry;
  config?: BridgeOptions;
  /** Clock for ingest_ts. @default Date.now */
  now?: () => number;
  /**
   * When given and enabled, each appended event gets a `bridge <type>`
   * consumer span, child of its Kafka `traceparent` header. The stream entry
   * carries the header unchanged (the message's creation context, which
   * intermediaries do not alter: the detector's spans are children of the
   * producer's span, siblings of the bridge's), or, for a message without a
   * valid header, the context of the new trace its bridge span starts.
   * Disabled or absent: the header is copied as is and no span is made.
   */
  tracer?: Tracer;
}

/** A running bridge. */
export interface Bridge {
  /** Consume until `signal` aborts (then drain, commit, disconnect) or the consumer fails for good. */
  run(signal: AbortSignal): Promise<void>;
  /** Stop (idempotent); resolves when disconnected. */
  close(): Promise<void>;
  /** Health checks for the ops server. */
  readonly checks: Record<string, () => Promise<boolean> | boolean>;
}

/** Span names by event type (no string building per event). */
const SPAN_NAMES = Object.fromEntries(EVENT_TYPES.map((t) => [t, `bridge ${t}`])) as Record<
  (typeof EVENT_TYPES)[number],
  string
>;

/** Create the bridge. */
export function createBridge(deps: BridgeDeps): Bridge {
  const { kafka, redis, keys, metrics } = deps;
  const log = deps.log.with({ component: "bridge" });
  const now = deps.now ?? Date.now;
  const cfg = deps.config ?? {};
  const maxlen = cfg.maxlen ?? 1_000_000;
  const chunkSize = cfg.chunkSize ?? 500;
  const maxEventBytes = cfg.maxEventBytes ?? 1_048_576;
  const topics = [...(cfg.topics ?? TOPICS)];
  const shutdownTimeoutMs = cfg.shutdownTimeoutMs ?? 8000;
  const appender: Appender = createAppender(ioredisAppendPort(redis));

  const messagesTotal = metrics.counter(
    "vigil_bridge_messages_total",
    "Valid events appended to their stream",
    ["type"],
  );
  const deadTotal = metrics.counter(
    "vigil_bridge_dead_letters_total",
    "Messages sent to the dead-letter stream",
    ["topic", "reason_kind"],
  );
  const skippedTotal = metrics.counter(
    "vigil_bridge_duplicates_skipped_total",
    "Redelivered messages skipped by the offset dedup",
  );
  const redisErrors = metrics.counter(
    "vigil_bridge_redis_errors_total",
    "Failed batch appends (retried)",
  );
  const batchSeconds = metrics.histogram(
    "vigil_bridge_batch_seconds",
    "Time to classify, append and commit one partition batch",
  );
  const lag = metrics.gauge(
    "vigil_bridge_consumer_lag",
    "High watermark minus the next offset to process",
    ["topic", "partition"],
  );
  metrics.gauge(
    "vigil_bridge_stream_length",
    "Entries in each event stream (XLEN)",
    ["type"],
    async (g) => {
      for (const type of EVENT_TYPES) g.set({ type }, await redis.xlen(keys.events(type)));
    },
  );

  let inFlight = 0;
  /** Next offset per partition whose batch Redis accepted (committed at shutdown). */
  const resolved = new Map<string, { topic: string; partition: number; offset: string }>();

  /**
   * Start one span per event (a group: they share name, times and partition); an entry
   * keeps its message's context, or gets its new root's (tracing enabled only).
   */
  function startSpans(tracer: Tracer, partition: number, items: BatchItem[]): SpanGroup | null {
    const events: Extract<BatchItem["classified"], { kind: "event" }>[] = [];
    const parents: (string | undefined)[] = [];
    const offsets: number[] = [];
    for (const item of items) {
      const c = item.classified;
      if (c.kind !== "event") continue;
      events.push(c);
      parents.push(c.traceparent);
      offsets.push(Number(item.offset));
    }
    // Few attributes on purpose: each costs bytes on every event. The name says the type
    // (= topic: one per batch) and stream; partition and offset find the message.
    if (events.length === 0) return null; // dead letters only
    const group = tracer.startSpanGroup(SPAN_NAMES[events[0]!.type], parents, {
      kind: "consumer",
      startTimeMs: performance.timeOrigin + performance.now(),
      attributes: { "messaging.kafka.partition": partition },
      perSpan: { key: "messaging.kafka.offset", values: offsets },
      propagate: "parent",
    });
    const traceparents = group.traceparents;
    for (let i = 0; i < events.length; i++) events[i]!.traceparent = traceparents[i]!; // fresh per message
    return group;
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
    if (batch.messages.length === 0) return;
    inFlight++;
    const started = performance.now();
    try {
      const { topic, partition } = batch;
      const items: BatchItem[] = new Array(batch.messages.length);
      for (let i = 0; i < batch.messages.length; i++) {
        const m = batch.messages[i]!;
        items[i] = {
          offset: m.offset,
          classified: classifyMessage(
            { topic, partition, offset: m.offset, key: m.key, value: m.value, headers: m.headers },
            { maxBytes: maxEventBytes },
          ),
        };
      }
      const spans = deps.tracer?.enabled ? startSpans(deps.tracer, partition, items) : null;
      const calls = buildAppendCalls({ topic, partition, items }, {
        keys,
        maxlen,
        chunkSize,
        ingestTs: now(),
      });
      let result: { appended: number; skipped: number };
      for (let attempt = 0;; attempt++) {
        try {
          result = await appender.append(calls);
          break;
        } catch (error) {
          redisErrors.inc();
          if (!isRunning() || isStale() || group.stopping.aborted) {
            spans?.fail(error).end();
            throw error;
          }
          log.warn("cannot append batch, retrying", { topic, partition, attempt, error });
          await sleep(backoffMs(attempt, { baseMs: 100, capMs: 5000 }));
          await heartbeat();
        }
      }
      const last = items[items.length - 1]!.offset;
      resolveOffset(last);
      const next = (BigInt(last) + 1n).toString();
      // Resolved only now that Redis holds the batch; kafkajs auto-commits
      // resolved offsets every second (a Kafka round trip per batch would
      // halve throughput), and shutdown commits the rest. A redelivery after
      // a crash is skipped by the offset dedup in the append script.
      resolved.set(`${topic}\u0000${partition}`, { topic, partition, offset: next });
      if (result.skipped === 0) {
        // Tallied per batch: a labelled increment per message costs more than the rest of
        // the bookkeeping. Events of a batch share its topic, which is their type.
        let events = 0;
        const dead = new Map<string, number>();
        for (const { classified: c } of items) {
          if (c.kind === "event") events++;
          else dead.set(c.reasonKind, (dead.get(c.reasonKind) ?? 0) + 1);
        }
        if (events > 0) messagesTotal.inc({ type: topic }, events);
        for (const [reason_kind, n] of dead) deadTotal.inc({ topic, reason_kind }, n);
      } else {
        skippedTotal.inc(undefined, result.skipped);
      }
      if (spans) {
        if (result.skipped > 0) spans.setAttribute("vigil.batch_duplicates", result.skipped);
        spans.end();
      }
      lag.set({ topic, partition }, Math.max(0, Number(batch.highWatermark) - Number(next)));
      batchSeconds.observe(undefined, (performance.now() - started) / 1000);
      await heartbeat();
    } finally {
      inFlight--;
    }
  }

  const group = createConsumerGroup({
    kafka,
    log,
    groupId: cfg.groupId ?? GROUPS.bridge,
    topics,
    sessionTimeoutMs: cfg.sessionTimeoutMs,
    shutdownTimeoutMs,
    minBytes: 1,
    runConfig: {
      autoCommit: true,
      autoCommitInterval: 1000,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: cfg.concurrency ?? 4,
      eachBatch,
    },
    onJoin: () => resolved.clear(), // offsets of partitions we may no longer own
    onRunning: () => log.info("consuming", { topics }),
    // Let the batches in flight append and commit.
    async drain(c, deadline) {
      while (inFlight > 0 && Date.now() < deadline) await sleep(20);
      if (resolved.size > 0 && group.joined) {
        try {
          await withTimeout(
            c.commitOffsets([...resolved.values()]),
            Math.max(500, deadline - Date.now()),
            "final offset commit",
          );
        } catch (error) {
          log.warn("cannot commit final offsets (redelivery will be deduplicated)", { error });
        }
      }
    },
  });

  return {
    checks: {
      redis: async () => (await redis.ping()) === "PONG",
      kafka: () => group.healthy,
    },
    run: (signal) => group.run(signal),
    close: () => group.close(),
  };
}
