/**
 * The bridge: one Kafka consumer group over the event topics; each message
 * is classified (valid event or dead letter) and appended exactly once to
 * its Redis stream. Per partition batch, every Redis write goes in one
 * pipeline of Lua calls (dedup by topic/partition/offset, atomic with the
 * XADDs); the Kafka offset is committed only after Redis accepted the batch.
 *
 * Offsets Kafka deleted before the bridge read them (its retention, when the
 * bridge falls behind) are detected per partition: a batch that starts above
 * the partition's high-water + 1 makes the bridge read the partition's log
 * start offset, and the part of the hole below it is recorded once as a
 * `gap` dead letter, counted in `vigil_bridge_skipped_messages_total`,
 * logged at error level and shown by the `kafka_gaps` health check. The
 * part at or above the log start (transaction markers, aborted or
 * compacted records) is not loss and is passed over silently.
 *
 * @module
 */
import type { Admin, EachBatchPayload, Kafka } from "kafkajs";
import { SpanKind } from "@opentelemetry/api";
import type { Redis } from "ioredis";
import { GROUPS, type Keys } from "@vigil/shared/keys";
import type { Logger } from "@vigil/shared/log";
import type { Registry } from "@vigil/shared/metrics";
import { backoffMs, sleep, withTimeout } from "@vigil/shared/lifecycle";
import { EVENT_TYPES, TOPICS } from "@vigil/shared/schemas/event";
import type { ExtraLimits } from "@vigil/shared/schemas/hygiene";
import type { HealthDetail } from "@vigil/shared/http/ops_app";
import { failSpan, type Span, startBatchSpan, type Tracer } from "@vigil/shared/telemetry";
import {
  type Appender,
  type AppendResult,
  type BatchItem,
  buildAppendCalls,
  createAppender,
  type Gap,
  HoleError,
  ioredisAppendPort,
} from "./append.ts";
import { classifyMessage } from "./classify.ts";
import { createConsumerGroup } from "@vigil/shared/kafka_group";

/** Times a hole before a batch is read again before it is judged against the log start. */
const HOLE_REREADS = 2;

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
  /** Bytes of a dead letter's value kept in its entry. @default {4096} */
  deadRawBytes?: number;
  /** Bounds on extra fields. @default {DEFAULT_EXTRA_LIMITS} */
  extraLimits?: ExtraLimits;
  /** The `kafka_gaps` health check warns this long after a gap. @default {3600000} */
  gapWarnMs?: number;
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
  /** Consumer group; admin only to read a partition's log start after a hole. */
  kafka: Pick<Kafka, "consumer" | "admin">;
  redis: Pick<Redis, "script" | "pipeline" | "ping" | "xlen">;
  keys: Keys;
  log: Logger;
  metrics: Registry;
  config?: BridgeOptions;
  /** Clock for ingest_ts. @default Date.now */
  now?: () => number;
  /**
   * When given (tracing on), each consumed partition batch gets one
   * `process <topic>` consumer span (the OpenTelemetry messaging conventions
   * for batches), linked to each event's creation context (its Kafka
   * `traceparent` header). The stream entries carry the headers unchanged,
   * so the detector relates to the producer's spans whatever the bridge
   * records. Absent: no span is made.
   */
  tracer?: Tracer;
}

/** A running bridge. */
export interface Bridge {
  /** Consume until `signal` aborts (then drain, commit, disconnect) or the consumer fails for good. */
  run(signal: AbortSignal): Promise<void>;
  /** Stop (idempotent); resolves when disconnected. */
  close(): Promise<void>;
  /** Health checks for the ops server (`kafka_gaps` warns with the detail of recent gaps). */
  readonly checks: Record<string, () => Promise<boolean> | boolean | HealthDetail>;
}

/** Create the bridge. */
export function createBridge(deps: BridgeDeps): Bridge {
  const { kafka, redis, keys, metrics } = deps;
  const log = deps.log.with({ component: "bridge" });
  const now = deps.now ?? Date.now;
  const cfg = deps.config ?? {};
  const maxlen = cfg.maxlen ?? 1_000_000;
  const chunkSize = cfg.chunkSize ?? 500;
  const maxEventBytes = cfg.maxEventBytes ?? 1_048_576;
  const deadRawBytes = cfg.deadRawBytes ?? 4096;
  const gapWarnMs = cfg.gapWarnMs ?? 3_600_000;
  const classifyOptions = {
    maxBytes: maxEventBytes,
    deadRawBytes,
    ...(cfg.extraLimits ? { limits: cfg.extraLimits } : {}),
  };
  const topics = [...(cfg.topics ?? TOPICS)];
  const groupId = cfg.groupId ?? GROUPS.bridge;
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
  const lostTotal = metrics.counter(
    "vigil_bridge_skipped_messages_total",
    "Messages deleted by Kafka (retention) before the bridge read them, recorded as gaps",
    ["topic"],
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

  /** Recent gaps (newest last, at most 20) and totals, for the health check. */
  const gaps: (Gap & { topic: string; partition: number; at: number })[] = [];
  let gapCount = 0;
  let lostCount = 0;
  /**
   * Per partition, the offsets of the last run of batches kafkajs consumed
   * without calling eachBatch (only transaction markers or aborted records):
   * the next batch accounts for them, so they need no log start read.
   */
  const filtered = new Map<string, { first: bigint; last: bigint }>();
  let admin: Promise<Admin> | undefined;
  /** Holes before a batch being re-read (see eachBatch), per partition. */
  const holes = new Map<string, { highWater: string; coverFrom: string; tries: number }>();

  /** The partition's log start offset (earliest retained), read from Kafka. */
  async function logStart(topic: string, partition: number): Promise<string> {
    admin ??= (async () => {
      const a = kafka.admin();
      await a.connect();
      return a;
    })().catch((error) => {
      admin = undefined;
      throw error;
    });
    const offsets = await (await admin).fetchTopicOffsets(topic);
    const p = offsets.find((o) => o.partition === partition);
    if (!p) {
      throw new Error(`Cannot read the log start of ${topic}/${partition}: no such partition`);
    }
    return p.low;
  }

  async function closeAdmin(): Promise<void> {
    const a = admin;
    admin = undefined;
    if (!a) return;
    try {
      await withTimeout((await a).disconnect(), 2000, "admin disconnect");
    } catch (error) {
      log.warn("cannot disconnect the admin client", { error });
    }
  }

  function recordGap(topic: string, partition: number, gap: Gap): void {
    gapCount++;
    lostCount += gap.count;
    lostTotal.inc({ topic }, gap.count);
    gaps.push({ topic, partition, ...gap, at: now() });
    if (gaps.length > 20) gaps.shift();
    log.error("messages lost: Kafka deleted them before the bridge read them", {
      topic,
      partition,
      from: gap.from,
      to: gap.to,
      count: gap.count,
    });
  }

  function gapHealth(): boolean | HealthDetail {
    const last = gaps[gaps.length - 1];
    if (!last || now() - last.at > gapWarnMs) return true;
    return {
      status: "warn",
      message: "messages were deleted by Kafka before the bridge read them (see the gap " +
        "dead letters): the bridge falls behind the topics' retention",
      gaps: gapCount,
      skipped_messages: lostCount,
      recent: gaps.slice(-5).map((g) => ({
        topic: g.topic,
        partition: g.partition,
        from: g.from,
        to: g.to,
        count: g.count,
        at: new Date(g.at).toISOString(),
      })),
    };
  }

  let inFlight = 0;
  /** Next offset per partition whose batch Redis accepted (committed at shutdown). */
  const resolved = new Map<string, { topic: string; partition: number; offset: string }>();

  /** The span of a batch whose handling started at `started` (`performance.now()`). */
  function startSpan(
    tracer: Tracer,
    batch: EachBatchPayload["batch"],
    items: BatchItem[],
    started: number,
  ): Span {
    const contexts: string[] = [];
    for (const { classified: c } of items) if (c.kind === "event") contexts.push(c.traceparent);
    return startBatchSpan(tracer, `process ${batch.topic}`, contexts, {
      kind: SpanKind.CONSUMER,
      startTime: performance.timeOrigin + started,
      attributes: {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.destination.name": batch.topic,
        "messaging.destination.partition.id": String(batch.partition),
        "messaging.consumer.group.name": groupId,
        "messaging.batch.message_count": items.length,
      },
    });
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
            classifyOptions,
          ),
        };
      }
      const span = deps.tracer ? startSpan(deps.tracer, batch, items, started) : undefined;
      // The lowest offset this batch accounts for: its first record (control records
      // included), or the first of the filtered batches just before it.
      const key = `${topic}\u0000${partition}`;
      let coverFrom = batch.firstOffset() ?? items[0]!.offset;
      const skippedBefore = filtered.get(key);
      if (skippedBefore && skippedBefore.last + 1n === BigInt(coverFrom)) {
        coverFrom = String(skippedBefore.first);
      }
      const ingestTs = now();
      const build = (logStartOffset?: string) =>
        buildAppendCalls({ topic, partition, items }, {
          keys,
          maxlen,
          chunkSize,
          ingestTs,
          coverFrom,
          ...(logStartOffset !== undefined ? { logStart: logStartOffset } : {}),
        });
      let calls = build();
      let result: AppendResult;
      for (let attempt = 0;; attempt++) {
        try {
          result = await appender.append(calls);
          break;
        } catch (error) {
          let failure = error;
          if (error instanceof HoleError) {
            // Offsets nobody appended lie before this batch. Read them first: the
            // consumer may have been positioned past them (a rebalance racing a
            // commit), and skipping them would lose messages. Only a hole that is
            // still there after re-reading it is judged against the log start.
            const seen = holes.get(key);
            const again = seen?.highWater === error.highWater && seen.coverFrom === coverFrom;
            const tries = again ? seen.tries : 0;
            if (tries < HOLE_REREADS && group.consumer) {
              holes.set(key, { highWater: error.highWater, coverFrom, tries: tries + 1 });
              const from = (BigInt(error.highWater) + 1n).toString();
              log.warn("offsets before this batch were never appended, reading them again", {
                topic,
                partition,
                from,
                batch_from: coverFrom,
              });
              span?.end();
              group.consumer.seek({ topic, partition, offset: from });
              return; // not resolved: the next fetch starts at `from`
            }
            try {
              // Re-read and still a hole: how much of it did Kafka delete?
              calls = build(await logStart(topic, partition));
              attempt--;
              continue;
            } catch (readError) {
              failure = readError;
            }
          } else {
            redisErrors.inc();
          }
          if (!isRunning() || isStale() || group.stopping.aborted) {
            if (span) failSpan(span, failure).end();
            throw failure;
          }
          log.warn("cannot append batch, retrying", { topic, partition, attempt, error: failure });
          await sleep(backoffMs(attempt, { baseMs: 100, capMs: 5000 }));
          await heartbeat();
        }
      }
      filtered.delete(key);
      holes.delete(key);
      if (result.gap) recordGap(topic, partition, result.gap);
      const last = items[items.length - 1]!.offset;
      resolveOffset(last);
      const next = (BigInt(last) + 1n).toString();
      // Resolved only now that Redis holds the batch; kafkajs auto-commits
      // resolved offsets every second (a Kafka round trip per batch would
      // halve throughput), and shutdown commits the rest. A redelivery after
      // a crash is skipped by the offset dedup in the append script.
      resolved.set(key, { topic, partition, offset: next });
      if (result.skipped === 0) {
        // Tallied per batch: a labelled increment per message costs more than the rest of
        // the bookkeeping. Events of a batch have its topic's type, but for the
        // simulator's metric readings on `logs`.
        let events = 0;
        let rerouted = 0;
        const dead = new Map<string, number>();
        for (const { classified: c } of items) {
          if (c.kind === "event") {
            if (c.type === topic) events++;
            else rerouted++;
          } else dead.set(c.reasonKind, (dead.get(c.reasonKind) ?? 0) + 1);
        }
        if (events > 0) messagesTotal.inc({ type: topic }, events);
        if (rerouted > 0) messagesTotal.inc({ type: "metrics" }, rerouted);
        for (const [reason_kind, n] of dead) deadTotal.inc({ topic, reason_kind }, n);
      } else {
        skippedTotal.inc(result.skipped);
      }
      if (span) {
        if (result.skipped > 0) span.setAttribute("vigil.batch_duplicates", result.skipped);
        span.end();
      }
      lag.set({ topic, partition }, Math.max(0, Number(batch.highWatermark) - Number(next)));
      batchSeconds.observe((performance.now() - started) / 1000);
      await heartbeat();
    } finally {
      inFlight--;
    }
  }

  const group = createConsumerGroup({
    kafka,
    log,
    groupId,
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
    onJoin: () => {
      resolved.clear(); // offsets of partitions we may no longer own
      filtered.clear();
    },
    instrument(c) {
      // Batches of transaction markers or aborted records only: kafkajs moves past them
      // without calling eachBatch; remember them so the next batch accounts for them.
      c.on(c.events.START_BATCH_PROCESS, ({ payload }) => {
        if (payload.batchSize !== 0 || payload.firstOffset === null) return;
        const key = `${payload.topic}\u0000${payload.partition}`;
        const first = BigInt(payload.firstOffset);
        const last = BigInt(payload.lastOffset);
        const run = filtered.get(key);
        if (run && run.last + 1n === first) run.last = last;
        else filtered.set(key, { first, last });
      });
    },
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
      kafka_gaps: gapHealth,
    },
    async run(signal) {
      try {
        await group.run(signal);
      } finally {
        await closeAdmin();
      }
    },
    async close() {
      await group.close();
      await closeAdmin();
    },
  };
}
