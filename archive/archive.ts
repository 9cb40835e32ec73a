/**
 * The raw archive: its own consumer group (`vigil-archive`, so it never competes with the bridge)
 * stores every raw message, byte for byte, as gzipped NDJSON objects keyed
 * `<prefix>/<topic>/dt=…/hour=…/<partition>-<firstOffset>.ndjson.gz`.
 *
 * Exactly-once in the archive: per partition, objects are written one after the other and the Kafka
 * offset after an object's last message is committed before the next object is started. After a
 * crash the partition is re-read from the committed offset, which is always the first offset of the
 * one object that may have been stored without its commit; the re-read batch starts there, gets the
 * same key and replaces that object. So no offset is in two objects, and none is missing once the
 * archive caught up.
 *
 * Rebalances: a put of an old owner landing after the new owner's object of the same key (which may
 * hold more offsets, committed past) would lose those. So work belongs to the group generation it
 * was read in (`shared/kafka_generation.ts`): once that ends (a heartbeat answered "rebalance in progress" or
 * "unknown member", a join, a crash) its retried puts stop, the request in flight is aborted (S3
 * `abortSignal`), nothing is committed for it and its waiting batches are dropped
 * (`rebalance_test.ts`). Left open, as no put is fenced without conditional writes: a request the
 * store had received landing after the new owner's (which must fetch and flush first), and a member
 * expelled unheard (cut off from Kafka, not from the store) retrying until Kafka answers it.
 *
 * Gaps: a batch starting past the next offset expected (the progress object
 * `<prefix>/<topic>/progress/<partition>.json`) means Kafka deleted messages unread: the part below
 * the log start is recorded as a gap object (`docs/ingest.md`, "Gaps").
 *
 * A log that started again (its high watermark below the progress record: the topic was created
 * again, or another cluster answers) is archived under its own name (`objectKey`'s `log`), so its
 * objects never replace the old log's; counted in `vigil_archive_log_resets_total`.
 *
 * Memory: each line goes straight into its object's gzip stream (text queued is compressed every
 * {@link COMPRESS_CHUNK} chars), so an open object costs its compressed size plus the compressor's
 * state; the formula with the flush settings is in `docs/ingest.md` ("Archive memory").
 *
 * @module
 */
import type { Consumer, EachBatchPayload, Kafka } from "kafkajs";
import { GROUPS } from "@vigil/shared/keys";
import type { Logger } from "@vigil/shared/log";
import type { Registry } from "@vigil/shared/metrics";
import { createArchiveMetrics, createPartitionLag } from "./metrics.ts";
import { withTimeout } from "@vigil/shared/lifecycle";
import { TOPICS } from "@vigil/shared/schemas/event";
import {
  appendToBuffer,
  archiveLine,
  type FlushPolicy,
  isDue,
  isFull,
  objectKey,
  type PartitionBuffer,
  startBuffer,
} from "./format.ts";
import { type ArchiveStore, createGzipWriter, type GzipWriter } from "./store.ts";
import { retrying } from "./store.ts";
import { createConsumerGroup, type GroupSettings } from "@vigil/shared/kafka_group";
import type { Worker } from "@vigil/shared/service";
import { createGapTracker } from "@vigil/shared/kafka_gaps";
import { createArchiveProgress } from "./progress.ts";
import { kafkaClusterId } from "@vigil/shared/kafka_cluster";
import { createWriteHealth } from "@vigil/shared/write_health";
import { createGeneration } from "@vigil/shared/kafka_generation";
import { createRetryRounds } from "@vigil/shared/retry";

/** Archive settings (the group is `vigil-archive` by default). */
export interface ArchiveOptions extends GroupSettings {
  /** First segment of every key. @default {"raw"} */
  prefix?: string;
  /** Flush thresholds. */
  policy: FlushPolicy;
  /**
   * The `store` health check fails once the store refused an object's writes
   * this long (a full disk, S3 denying PutObject). @default {60000}
   */
  stuckAfterMs?: number;
}

/** Dependencies of {@link createArchive}. */
export interface ArchiveDeps {
  /** Consumer group; admin to read log starts (gap detection). */
  kafka: Pick<Kafka, "consumer" | "admin">;
  store: ArchiveStore;
  log: Logger;
  metrics: Registry;
  config: ArchiveOptions;
  /** Wall clock for the time-based flush. @default Date.now */
  now?: () => number;
}

/** A running archive: `run` consumes until the signal aborts (then flushes, commits and disconnects) or the consumer fails for good. */
export type Archive = Worker;

/** Characters of lines queued before they are compressed (per open object). */
export const COMPRESS_CHUNK = 64 * 1024;

const LOG_RESET =
  "the partition's log ends below what was archived from it (topic created again): archiving the new log under its own name";
const OTHER_CLUSTER =
  "another Kafka cluster answers: each of its partition logs is archived under its own name";

/** An object being written: its buffer (span, size) and the gzip stream of its lines. */
interface OpenObject {
  buffer: PartitionBuffer;
  gz: GzipWriter;
  /** The partition's log name when the object was started (`progress.ts` logOf). */
  log: number;
  /** The group generation it was read in: its puts and commit stop once that ended. */
  signal: AbortSignal;
}

/** Create the raw archive. */
export function createArchive(deps: ArchiveDeps): Archive {
  const { kafka, store, metrics, config } = deps;
  const log = deps.log.with({ component: "archive" });
  const now = deps.now ?? Date.now;
  const prefix = config.prefix ?? "raw";
  const topics = [...(config.topics ?? TOPICS)];

  const { objectsTotal, messagesTotal, storeErrors, logResets, lag } = createArchiveMetrics(
    metrics,
  );
  const lags = createPartitionLag(lag);

  /** Open objects by partition: the span and size, and the gzip stream of their lines. */
  const buffers = new Map<string, OpenObject>();
  /** Per partition, the offset after the last stored object in this generation. */
  const storedUpTo = new Map<string, bigint>();
  const locks = new Map<string, Promise<unknown>>();
  /** The Kafka cluster read (null: unknown); a change of cluster is told once. */
  let clusterId: string | null = null;
  let otherClusterSaid = false;
  const gaps = createGapTracker({
    kafka,
    log,
    metrics,
    service: "archive",
    gapWarnMs: 3_600_000,
    now,
  });

  const writes = createWriteHealth({ what: "object write", stuckAfterMs: config.stuckAfterMs });
  const generation = createGeneration();
  const putRounds = createRetryRounds(log, "store objects", { now }); // reported on the tick
  /** Store `body` under `key` (`what`: for the retry log; `open`: the object stored), retrying until stored, its generation ended, or 3 attempts once stopping; every put logs to `putRounds` (a full disk fails them all at once: one warning a round). */
  const put = (key: string, body: Uint8Array, what = "store object", open?: OpenObject) =>
    // The last offset goes into S3 metadata: the web checks the object holds an event.
    retrying(key, (signal) => store.put(key, body, signal, open?.buffer.lastOffset), {
      what,
      rounds: putRounds,
      stopping: group.stopping,
      signal: open?.signal,
      onError: () => storeErrors.inc(),
      writes,
    });
  const progress = createArchiveProgress({ store, prefix, gaps, put, now });

  /** Run `fn` after every earlier task of the same partition. */
  function withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = locks.get(key) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(fn);
    locks.set(key, next);
    return next;
  }

  const keyOf = ({ buffer: b, log }: OpenObject) =>
    objectKey(prefix, { ...b, offset: b.firstOffset, timestamp: b.firstTimestamp, log });

  /** Store an open object and commit past it; throws when either failed for good. */
  async function flush(key: string, open: OpenObject): Promise<void> {
    const { buffer, signal, buffer: { topic, partition } } = open;
    const objKey = keyOf(open);
    const body = await open.gz.finish();
    await put(objKey, body, "store object", open);
    const next = (BigInt(buffer.lastOffset) + 1n).toString();
    // Stored: its record and commit (the next object may start then) are retried, not re-read:
    // Kafka may have deleted its start meanwhile, a new object would overlap it (retention_overlap).
    await retrying(objKey, async (signal) => {
      await progress.save(topic, partition, next, signal);
      signal?.throwIfAborted(); // kafkajs would commit with its current generation
      await group.consumer!.commitOffsets([{ topic, partition, offset: next }]);
    }, { what: "record and commit object", rounds: putRounds, stopping: group.stopping, signal });
    if (buffers.get(key) === open) buffers.delete(key);
    storedUpTo.set(key, BigInt(next));
    objectsTotal.inc({ topic });
    messagesTotal.inc({ topic }, buffer.count);
    // Caught up once no batch comes any more: the lag must say so now.
    lags.set(key, topic, partition, BigInt(next));
    log.debug("stored object", { key: objKey, messages: buffer.count, bytes: body.length });
  }

  /**
   * The partition's log started again: what is open of the old log is stored
   * as it is (not committed: its offsets mean nothing in the new log), and
   * the new log is archived from its first offset under its own name.
   */
  async function logReset(
    key: string,
    b: { topic: string; partition: number },
    from: string,
    otherCluster: boolean,
  ) {
    logResets.inc({ topic: b.topic });
    const open = buffers.get(key);
    const fields = {
      topic: b.topic,
      partition: b.partition,
      from,
      log: progress.logOf(b.topic, b.partition),
      open_messages: open?.buffer.count ?? 0,
    };
    if (!otherCluster) log.warn(LOG_RESET, fields);
    else {
      // Every partition at once (a dev Kafka started again): one warning, each partition at info.
      if (!otherClusterSaid) log.warn(OTHER_CLUSTER, { cluster: clusterId });
      otherClusterSaid = true;
      log.info("archiving the new cluster's log of the partition under its own name", fields);
    }
    storedUpTo.delete(key);
    if (!open) return;
    buffers.delete(key);
    await put(keyOf(open), await open.gz.finish(), "store the old log's open object", open);
  }

  /** Drop an open object (not stored; its partition is re-read from the committed offset). */
  function discard(key: string, open: OpenObject): void {
    if (buffers.get(key) === open) buffers.delete(key);
    open.gz.abort();
  }

  /**
   * {@link flush}; when it failed, its error (not thrown: kafkajs retries no error of ours from
   * eachBatch, its consumer crashes), the object dropped (its gzip stream is finished) and the
   * partition read again from the object's first offset: the object's generation ended (perhaps
   * not stored), or the archive is stopping and 3 attempts failed.
   */
  async function flushOrRewind(key: string, open: OpenObject): Promise<{ error: unknown } | null> {
    try {
      await flush(key, open);
      return null;
    } catch (error) {
      discard(key, open);
      const { topic, partition, firstOffset: offset } = open.buffer;
      try {
        group.consumer?.seek({ topic, partition, offset });
      } catch {
        // Not assigned any more: the new owner re-reads from the committed offset.
      }
      return { error };
    }
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat } = payload;
    const { topic, partition } = batch;
    const key = `${topic}:${partition}`;
    const signal = generation.signal; // the batch's generation
    await withLock(key, async () => {
      if (signal.aborted) return; // the partition may be another member's: re-read after the join
      lags.watermark(key, BigInt(batch.highWatermark));
      const first = batch.firstOffset() ?? batch.messages[0]?.offset;
      if (first !== undefined && first !== null && batch.messages.length > 0) {
        const checked = await progress.check(topic, partition, {
          first: BigInt(first),
          highWatermark: BigInt(batch.highWatermark),
          firstTimestamp: Number(batch.messages[0]!.timestamp),
        });
        if (checked !== "ok") await logReset(key, batch, first, checked === "other-cluster");
      }
      const lastOffset = batch.messages.at(-1)?.offset;
      if (lastOffset !== undefined) progress.expect(topic, partition, BigInt(lastOffset) + 1n);
      const stored = storedUpTo.get(key) ?? -1n;
      for (const m of batch.messages) {
        // Never start an object inside one already stored.
        if (BigInt(m.offset) < stored) continue;
        let open = buffers.get(key);
        if (open && BigInt(m.offset) <= BigInt(open.buffer.lastOffset)) {
          // Re-fetched: already buffered, or rewound before the buffer (start over).
          if (BigInt(m.offset) >= BigInt(open.buffer.firstOffset)) continue;
          discard(key, open);
          open = undefined;
        }
        const { offset, timestamp, key: k, value, headers } = m;
        const message = { topic, partition, offset, timestamp, key: k, value, headers };
        const line = archiveLine(message);
        if (open) appendToBuffer(open.buffer, message, line);
        else {
          open = {
            buffer: startBuffer(message, line, now()),
            gz: createGzipWriter(),
            log: progress.logOf(topic, partition),
            signal,
          };
          buffers.set(key, open);
        }
        open.gz.add(line + "\n");
        if (open.gz.queued >= COMPRESS_CHUNK) await open.gz.drain();
        resolveOffset(m.offset);
        if (isFull(open.buffer, config.policy)) {
          const failure = await flushOrRewind(key, open);
          if (failure) {
            return log.warn("cannot flush partition, it will be re-read", { key, ...failure });
          }
          await heartbeat();
        }
      }
      const open = buffers.get(key);
      const pending = open
        ? BigInt(open.buffer.firstOffset)
        : BigInt(batch.messages.at(-1)?.offset ?? BigInt(batch.highWatermark) - 1n) + 1n;
      lags.set(key, topic, partition, pending);
    });
    await heartbeat();
  }

  /** Flush buffers that are due (or all of them). Failures drop the buffer and rewind. */
  async function flushDue(all: boolean): Promise<void> {
    // One line for all the partitions that failed together (a rebalance fails every one of them).
    const failed: string[] = [];
    let firstError: unknown;
    const tasks = [...buffers].map(([key, open]) =>
      withLock(key, async () => {
        if (buffers.get(key) !== open || !(all || isDue(open.buffer, config.policy, now()))) return;
        const failure = await flushOrRewind(key, open); // flush_failure_test.ts
        if (failure && failed.push(key) === 1) firstError = failure.error;
      })
    );
    await Promise.all(tasks);
    if (failed.length > 0) {
      log.warn(`cannot flush ${failed.length} partition(s), they will be re-read`, {
        keys: failed.slice(0, 20),
        error: firstError,
      });
    }
  }

  const clearBuffers = () => {
    // A new generation (or a restart) re-reads every partition from its committed offset.
    generation.begin(); // the old one's puts stop
    for (const open of buffers.values()) open.gz.abort();
    buffers.clear();
    storedUpTo.clear();
    progress.clear();
    lags.clear();
  };
  const group = createConsumerGroup({
    kafka,
    log,
    groupId: config.groupId ?? GROUPS.archive,
    topics,
    sessionTimeoutMs: config.sessionTimeoutMs,
    shutdownTimeoutMs: config.shutdownTimeoutMs ?? 8000,
    runConfig: {
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 4,
      eachBatch,
    },
    onJoin: clearBuffers,
    onCrash: clearBuffers,
    onRebalance: () => generation.end(), // rebalance_test.ts
    onRunning: () => log.info("archiving", { topics, location: store.location, prefix }),
    async drain(_consumer: Consumer, deadline: number) {
      try {
        await withTimeout(flushDue(true), Math.max(500, deadline - Date.now() - 2000), "flush");
      } catch (error) {
        log.warn("cannot flush every buffer at shutdown (re-read at next start)", { error });
      }
    },
  });

  return {
    checks: {
      store: () => writes.check(() => store.check()),
      kafka: () => group.health(),
      kafka_gaps: () => gaps.health(),
    },
    async run(signal) {
      clusterId = await kafkaClusterId(kafka, { signal, log });
      if (clusterId !== null) progress.setCluster(clusterId);
      const tick = Math.max(50, Math.min(1000, Math.floor(config.policy.maxAgeMs / 4)));
      let ticking = false;
      const timer = setInterval(() => {
        putRounds.report();
        if (ticking || group.stopping.aborted) return;
        ticking = true;
        flushDue(false).finally(() => (ticking = false));
      }, tick);
      try {
        await group.run(signal);
      } finally {
        clearInterval(timer);
        putRounds.report();
        await gaps.close();
      }
    },
    close: () => group.close(),
  };
}
