/**
 * The bridge: one Kafka consumer group over the event topics; each message
 * is classified (valid event or dead letter) and appended exactly once to
 * its Redis stream partition (append.ts: routed by entity, dedup by Kafka
 * topic/partition/offset atomically with the XADDs); the Kafka offset is
 * committed only after Redis accepted the batch. Offsets never read are
 * detected per partition (shared/kafka_gaps.ts).
 *
 * @module
 */
import type { EachBatchPayload, Kafka } from "kafkajs";
import { type Redis, redisHealth } from "@vigil/shared/redis";
import { isCluster } from "@vigil/shared/redis_cluster";
import { GROUPS, type Keys } from "@vigil/shared/keys";
import type { Logger } from "@vigil/shared/log";
import type { Registry } from "@vigil/shared/metrics";
import { sleep } from "@vigil/shared/lifecycle";
import { logRetry, retry } from "@vigil/shared/retry";
import { TOPICS } from "@vigil/shared/schemas/event";
import type { ExtraLimits } from "@vigil/shared/schemas/hygiene";
import type { HealthDetail } from "@vigil/shared/http/ops_app";
import { failSpan, type Tracer } from "@vigil/shared/telemetry";
import {
  appendBatch,
  type AppendResult,
  type BatchItem,
  buildAppendCalls,
  createTally,
  ioredisAppendPort,
  offsetHashes,
  type ScriptClient,
} from "./append.ts";
import { createGapTracker, createProgress, type Gap } from "@vigil/shared/kafka_gaps";
import { kafkaClusterId } from "@vigil/shared/kafka_cluster";
import { classifyMessage } from "./classify.ts";
import { createConsumerGroup, endsGeneration, type GroupSettings } from "@vigil/shared/kafka_group";
import { createGeneration } from "@vigil/shared/kafka_generation";
import { createCommitter } from "./commits.ts";
import { createBridgeMetrics } from "./metrics.ts";
import { startBridgeSpan } from "./span.ts";
import { createStreamFull } from "./stream_full.ts";
import { createWriteHealth } from "@vigil/shared/write_health";

/** Bridge settings (from {@link BridgeConfig} or a test; the group is `vigil-bridge` by default). */
export interface BridgeOptions extends GroupSettings {
  /** Approximate MAXLEN of the streams. @default {1000000} */
  maxlen?: number;
  /** Stream partitions (`VIGIL_PARTITIONS`). @default {1} */
  partitions?: number;
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
  /** The `redis` health check fails once a partition's appends were refused this long. @default {60000} */
  appendStuckAfterMs?: number;
}

/** Dependencies of {@link createBridge}. */
export interface BridgeDeps {
  /** Consumer group; admin only to read a partition's log start after a hole. */
  kafka: Pick<Kafka, "consumer" | "admin">;
  /** One pipeline per slot when this is a cluster client (`isCluster`). */
  redis: Pick<Redis, "ping" | "hget" | "pipeline" | "set"> & ScriptClient;
  keys: Keys;
  log: Logger;
  metrics: Registry;
  config?: BridgeOptions;
  /** Clock for ingest_ts. @default Date.now */
  now?: () => number;
  /**
   * Tracing on: one `process <topic>` consumer span per partition batch (OpenTelemetry messaging
   * conventions), linked to each event's `traceparent` header (the entries carry it unchanged).
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
  readonly checks: Record<string, () => Promise<boolean | HealthDetail> | boolean | HealthDetail>;
}

/** Create the bridge. */
export function createBridge(deps: BridgeDeps): Bridge {
  const { kafka, redis, keys, metrics } = deps;
  const log = deps.log.with({ component: "bridge" });
  const now = deps.now ?? Date.now;
  const cfg = deps.config ?? {};
  const maxlen = cfg.maxlen ?? 1_000_000;
  const chunkSize = cfg.chunkSize ?? 500;
  const gapWarnMs = cfg.gapWarnMs ?? 3_600_000;
  const classifyOptions = {
    maxBytes: cfg.maxEventBytes ?? 1_048_576,
    deadRawBytes: cfg.deadRawBytes ?? 4096,
    ...(cfg.extraLimits ? { limits: cfg.extraLimits } : {}),
  };
  const topics = [...(cfg.topics ?? TOPICS)];
  const groupId = cfg.groupId ?? GROUPS.bridge;
  const partitions = cfg.partitions ?? 1;
  const port = ioredisAppendPort(redis, { perSlot: isCluster(redis) });
  const hashes = offsetHashes(keys, partitions);
  const progress = createProgress(redis, keys);
  const gaps = createGapTracker({ kafka, log, metrics, service: "bridge", gapWarnMs, now });

  const {
    messagesTotal,
    deadTotal,
    skippedTotal,
    logResets,
    redisErrors,
    streamFull,
    batchSeconds,
    lag,
  } = createBridgeMetrics(metrics, { redis, keys, partitions });
  const full = createStreamFull({ log, counter: streamFull, now });
  // Redis answering PING and refusing every append (out of memory, a read-only replica).
  const appends = createWriteHealth({
    what: "append",
    stuckAfterMs: cfg.appendStuckAfterMs ?? 60_000,
  });
  /** Per partition, the last run of batches kafkajs consumed without calling eachBatch (only
   * transaction markers or aborted records): the next batch accounts for them. */
  const filtered = new Map<string, { first: bigint; last: bigint }>();
  let inFlight = 0;
  const generation = createGeneration(); // ends at a rebalance, begins anew at each join
  /** Next offset per partition whose batch Redis accepted, committed every second (commits.ts). */
  const committer = createCommitter({ consumer: () => group.consumer, log });

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
    if (batch.messages.length === 0) return;
    inFlight++;
    const born = generation.signal; // the batch's: once it ended, each heartbeat fails for ever
    const ended = (error: unknown) => born.aborted || endsGeneration(error);
    const started = performance.now();
    try {
      const { topic, partition } = batch;
      const items: BatchItem[] = batch.messages.map((m) => ({
        offset: m.offset,
        classified: classifyMessage(
          { topic, partition, offset: m.offset, key: m.key, value: m.value, headers: m.headers },
          classifyOptions,
        ),
      }));
      const span = deps.tracer
        ? startBridgeSpan(deps.tracer, batch, items, started, groupId)
        : undefined;
      // The lowest offset this batch accounts for: its first record (control records
      // included), or the first of the filtered batches just before it.
      const key = `${topic}\u0000${partition}`;
      let coverFrom = batch.firstOffset() ?? items[0]!.offset;
      const skippedBefore = filtered.get(key);
      if (skippedBefore && skippedBefore.last + 1n === BigInt(coverFrom)) {
        coverFrom = String(skippedBefore.first);
      }
      const last = items[items.length - 1]!.offset;
      // Lag until Redis takes the batch: one retried for long (Redis refusing, the stream full)
      // showed the lag of the last batch appended, or none.
      lag.set(
        { topic, partition },
        Math.max(0, Number(batch.highWatermark) - Number(items[0]!.offset)),
      );
      // Offsets before this batch that nobody accounted for: read them again
      // first, then judge what is left against the log start (shared/kafka_gaps.ts).
      let gap: Gap | undefined;
      const expected = await progress.last(topic, partition);
      if (expected !== null && BigInt(coverFrom) > expected + 1n) {
        const from = (expected + 1n).toString();
        if (gaps.reread(key, expected, coverFrom) && group.consumer) {
          log.warn("offsets before this batch were never read, reading them again", {
            topic,
            partition,
            from,
            batch_from: coverFrom,
          });
          span?.end();
          group.consumer.seek({ topic, partition, offset: from });
          return; // not resolved: the next fetch starts at `from`
        }
        gap = await gaps.lost(topic, partition, expected + 1n, BigInt(coverFrom));
      }
      // The partition's log does not reach the offset appended last: it started again.
      const logReset = expected !== null && BigInt(batch.highWatermark) <= expected;
      if (logReset) await port.forget(hashes, `${topic}:${partition}`);
      const calls = buildAppendCalls({
        topic,
        partition,
        items,
        highWatermark: batch.highWatermark,
      }, {
        keys,
        partitions,
        maxlen,
        chunkSize,
        ingestTs: now(),
        ...(gap ? { gap } : {}),
      });
      const after = {
        key: progress.key,
        field: `${topic}:${partition}`,
        value: last,
        previous: expected === null ? null : expected.toString(),
      };
      // Retried until Redis takes it, while this consumer still owns the partition.
      let result: AppendResult;
      // What the attempts wrote: a retry skips what an attempt refused in part had written.
      const written = createTally();
      const logAppend = logRetry(
        log.with({ topic, partition }),
        "append batch",
        () => redisErrors.inc(),
      );
      try {
        result = await retry(async (attempt) => {
          born.throwIfAborted();
          if (attempt > 1) await heartbeat();
          return await appendBatch(port, calls, after, written);
        }, {
          baseMs: 100,
          capMs: 5000,
          signal: born,
          isRetryable: (e) => isRunning() && !isStale() && !group.stopping.aborted && !ended(e),
          onRetry: (info) => {
            if (full.seen(info.error, { topic, partition, retry_in_ms: info.delayMs })) return;
            appends.failed(`${topic}:${partition}`, info.error);
            logAppend(info);
          },
        });
      } catch (error) {
        if (span) failSpan(span, error).end();
        // Unresolved: read again by the partition's owner after the join.
        if (ended(error)) return log.warn("generation ended, batch unresolved", { topic });
        redisErrors.inc();
        throw error;
      }
      if (logReset || result.logReset) {
        logResets.inc({ topic });
        log.warn(
          "the partition's log ends below what was appended from it (topic created again, or another cluster): appending from the new log",
          {
            topic,
            partition,
            high_watermark: batch.highWatermark,
            appended_up_to: expected?.toString(),
            from: coverFrom,
          },
        );
      }
      progress.set(topic, partition, BigInt(last));
      appends.stored(`${topic}:${partition}`);
      filtered.delete(key);
      gaps.settled(key);
      if (gap && written.gaps > 0) {
        // One gap dead letter, written now (a redelivered batch's gap is skipped by the script).
        gaps.record(topic, partition, gap);
        deadTotal.inc({ topic, reason_kind: "gap" });
      }
      resolveOffset(last);
      const next = (BigInt(last) + 1n).toString();
      // Resolved only now that Redis holds the batch; committed within a second
      // (commits.ts), and at shutdown. A redelivery after a crash is skipped by the
      // offset dedup in the append script.
      committer.resolve(topic, partition, next);
      // Tallied per batch (a labelled increment per message costs more than the rest of the
      // bookkeeping), by what the attempts wrote: events by type (the simulator's readings on
      // `logs` are metrics), dead letters by kind; redelivered messages apart.
      for (const [type, n] of written.events) messagesTotal.inc({ type }, n);
      for (const [reason_kind, n] of written.dead) deadTotal.inc({ topic, reason_kind }, n);
      if (written.duplicates > 0) skippedTotal.inc(written.duplicates);
      if (span) {
        if (written.duplicates > 0) span.setAttribute("vigil.batch_duplicates", written.duplicates);
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
    shutdownTimeoutMs: cfg.shutdownTimeoutMs ?? 8000,
    // A fetch waits up to 100 ms for 64 KiB rather than returning with the first record:
    // at a steady rate that halves the dev Kafka's CPU per event (bench:pipeline --mode=live)
    // for at most 100 ms more Kafka → Redis latency at low rates.
    minBytes: 64 * 1024,
    maxWaitMs: 100,
    runConfig: {
      autoCommit: false, // kafkajs would commit after every batch: commits.ts does
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: cfg.concurrency ?? 4,
      eachBatch,
    },
    onRebalance: () => generation.end(),
    onJoin: () => {
      generation.begin();
      committer.clear(); // offsets of partitions we may no longer own
      filtered.clear();
      progress.clear(); // another bridge may have moved them on
    },
    lag, // pruned at each join, emptied at a crash
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
      committer.stop();
      if (group.joined) {
        await committer.flush({ consumer: c, timeoutMs: Math.max(500, deadline - Date.now()) });
      }
    },
  });

  /**
   * The offsets kept in Redis belong to one Kafka cluster: when another one answers now (Kafka
   * replaced, a dev Kafka restarted), they are dropped, so no message of its logs is skipped as a
   * redelivery. The cluster is marked again every 10 s while the bridge runs (`run`): Redis that
   * lost its data lost the mark too, and a Kafka replaced later would not be told apart.
   */
  async function forgetOtherCluster(signal: AbortSignal): Promise<string | null> {
    const id = await kafkaClusterId(kafka, { signal, log });
    if (id === null) return null;
    const previous = await redis.set(keys.bridgeCluster(), id, "GET");
    if (previous === null || previous === id) return id;
    await port.forget([...hashes, keys.bridgeProgress()]);
    progress.clear();
    for (const topic of topics) logResets.inc({ topic });
    log.warn("another Kafka cluster answers: the offsets of the previous one are forgotten", {
      previous,
      cluster: id,
    });
    return id;
  }

  return {
    checks: {
      redis: () => appends.check(() => redisHealth(redis)),
      kafka: () => group.health(),
      kafka_gaps: () => gaps.health(),
      streams: () => full.health(),
    },
    async run(signal) {
      const cluster = await forgetOtherCluster(signal);
      committer.start();
      const mark = cluster === null ? undefined : setInterval(
        () => void redis.set(keys.bridgeCluster(), cluster, "NX").catch(() => {}),
        10_000,
      );
      try {
        await group.run(signal);
      } finally {
        clearInterval(mark);
        committer.stop();
        await gaps.close();
      }
    },
    async close() {
      await group.close();
      await gaps.close();
    },
  };
}
