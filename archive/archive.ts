/**
 * The raw archive: its own consumer group (`vigil-archive`, so it never
 * competes with the bridge) stores every raw message, byte for byte, as
 * gzipped NDJSON objects keyed `<prefix>/<topic>/dt=…/hour=…/<partition>-<firstOffset>.ndjson.gz`.
 *
 * Exactly-once in the archive: per partition, objects are written one
 * after the other and the Kafka offset after an object's last message is
 * committed before the next object is started. After a crash the partition
 * is re-read from the committed offset, which is always the first offset of
 * the one object that may have been stored without its commit; the re-read
 * batch starts there, gets the same key and replaces that object. So no
 * offset is in two objects, and none is missing once the archive caught up.
 *
 * @module
 */
import type { Consumer, EachBatchPayload, Kafka } from "kafkajs";
import { GROUPS } from "@vigil/shared/keys";
import type { Logger } from "@vigil/shared/log";
import type { Registry } from "@vigil/shared/metrics";
import { backoffMs, sleep, withTimeout } from "@vigil/shared/lifecycle";
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
import { type ArchiveStore, gzip } from "./store.ts";
import { createConsumerGroup } from "@vigil/shared/kafka_group";

/** Archive settings. */
export interface ArchiveOptions {
  /** First segment of every key. @default {"raw"} */
  prefix?: string;
  /** Flush thresholds. */
  policy: FlushPolicy;
  /** @default {"vigil-archive"} */
  groupId?: string;
  /** @default {TOPICS} */
  topics?: readonly string[];
  /** @default {10000} */
  sessionTimeoutMs?: number;
  /** Bound on the shutdown. @default {8000} */
  shutdownTimeoutMs?: number;
}

/** Dependencies of {@link createArchive}. */
export interface ArchiveDeps {
  kafka: Pick<Kafka, "consumer">;
  store: ArchiveStore;
  log: Logger;
  metrics: Registry;
  config: ArchiveOptions;
  /** Wall clock for the time-based flush. @default Date.now */
  now?: () => number;
}

/** A running archive. */
export interface Archive {
  /** Consume until `signal` aborts (then flush, commit, disconnect) or the consumer fails for good. */
  run(signal: AbortSignal): Promise<void>;
  /** Stop (idempotent). */
  close(): Promise<void>;
  readonly checks: Record<string, () => Promise<boolean> | boolean>;
}

/** Create the raw archive. */
export function createArchive(deps: ArchiveDeps): Archive {
  const { kafka, store, metrics, config } = deps;
  const log = deps.log.with({ component: "archive" });
  const now = deps.now ?? Date.now;
  const prefix = config.prefix ?? "raw";
  const topics = [...(config.topics ?? TOPICS)];
  const shutdownTimeoutMs = config.shutdownTimeoutMs ?? 8000;

  const objectsTotal = metrics.counter(
    "vigil_archive_objects_total",
    "Objects stored",
    ["topic"],
  );
  const messagesTotal = metrics.counter(
    "vigil_archive_messages_total",
    "Messages stored in objects",
    ["topic"],
  );
  const storeErrors = metrics.counter(
    "vigil_archive_store_errors_total",
    "Failed object writes (retried)",
  );
  const lag = metrics.gauge(
    "vigil_archive_lag",
    "High watermark minus the first offset not yet stored and committed",
    ["topic", "partition"],
  );

  const buffers = new Map<string, PartitionBuffer>();
  /** Per partition, the offset after the last stored object in this generation. */
  const storedUpTo = new Map<string, bigint>();
  const locks = new Map<string, Promise<unknown>>();

  /** Run `fn` after every earlier task of the same partition. */
  function withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = locks.get(key) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(fn);
    locks.set(key, next);
    return next;
  }

  /** Store a buffer and commit past it; throws when either failed for good. */
  async function flush(key: string, buffer: PartitionBuffer): Promise<void> {
    const objKey = objectKey(prefix, {
      topic: buffer.topic,
      partition: buffer.partition,
      offset: buffer.firstOffset,
      timestamp: buffer.firstTimestamp,
    });
    const body = await gzip(buffer.lines.join("\n") + "\n");
    for (let attempt = 0;; attempt++) {
      try {
        await store.put(objKey, body);
        break;
      } catch (error) {
        storeErrors.inc();
        if (group.stopping.aborted && attempt >= 2) throw error;
        log.warn("cannot store object, retrying", { key: objKey, attempt, error });
        await sleep(backoffMs(attempt, { baseMs: 200, capMs: 10_000 }));
      }
    }
    const next = (BigInt(buffer.lastOffset) + 1n).toString();
    // Committing is what allows the next object to start at `next`; on failure
    // the partition is re-read from the committed offset (this object's first).
    await group.consumer!.commitOffsets([{
      topic: buffer.topic,
      partition: buffer.partition,
      offset: next,
    }]);
    if (buffers.get(key) === buffer) buffers.delete(key);
    storedUpTo.set(key, BigInt(next));
    objectsTotal.inc({ topic: buffer.topic });
    messagesTotal.inc({ topic: buffer.topic }, buffer.lines.length);
    log.debug("stored object", { key: objKey, messages: buffer.lines.length, bytes: body.length });
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat } = payload;
    const { topic, partition } = batch;
    const key = `${topic}:${partition}`;
    await withLock(key, async () => {
      const stored = storedUpTo.get(key) ?? -1n;
      for (const m of batch.messages) {
        // Never start an object inside one already stored.
        if (BigInt(m.offset) < stored) continue;
        let buffer = buffers.get(key);
        if (buffer && BigInt(m.offset) <= BigInt(buffer.lastOffset)) {
          // Re-fetched: already buffered, or rewound before the buffer (start over).
          if (BigInt(m.offset) >= BigInt(buffer.firstOffset)) continue;
          buffers.delete(key);
          buffer = undefined;
        }
        const message = {
          topic,
          partition,
          offset: m.offset,
          timestamp: m.timestamp,
          key: m.key,
          value: m.value,
          headers: m.headers,
        };
        const line = archiveLine(message);
        if (buffer) appendToBuffer(buffer, message, line);
        else buffers.set(key, buffer = startBuffer(message, line, now()));
        resolveOffset(m.offset);
        if (isFull(buffer, config.policy)) {
          await flush(key, buffer);
          await heartbeat();
        }
      }
      const buffer = buffers.get(key);
      const pending = buffer
        ? Number(buffer.firstOffset)
        : Number(batch.messages.at(-1)?.offset ?? batch.highWatermark) + 1;
      lag.set({ topic, partition }, Math.max(0, Number(batch.highWatermark) - pending));
    });
    await heartbeat();
  }

  /** Flush buffers that are due (or all of them). Failures drop the buffer and rewind. */
  async function flushDue(all: boolean): Promise<void> {
    const tasks = [...buffers].map(([key, buffer]) =>
      withLock(key, async () => {
        if (buffers.get(key) !== buffer || !(all || isDue(buffer, config.policy, now()))) return;
        try {
          await flush(key, buffer);
        } catch (error) {
          log.warn("cannot flush partition, it will be re-read", { key, error });
          if (buffers.get(key) === buffer) buffers.delete(key);
          try {
            group.consumer?.seek({
              topic: buffer.topic,
              partition: buffer.partition,
              offset: buffer.firstOffset,
            });
          } catch {
            // Not assigned any more: the new owner re-reads from the committed offset.
          }
        }
      })
    );
    await Promise.all(tasks);
  }

  const clearBuffers = () => {
    // A new generation (or a restart) re-reads every partition from its committed offset.
    buffers.clear();
    storedUpTo.clear();
  };
  const group = createConsumerGroup({
    kafka,
    log,
    groupId: config.groupId ?? GROUPS.archive,
    topics,
    sessionTimeoutMs: config.sessionTimeoutMs,
    shutdownTimeoutMs,
    runConfig: {
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 4,
      eachBatch,
    },
    onJoin: clearBuffers,
    onCrash: clearBuffers,
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
      store: () => store.check(),
      kafka: () => group.healthy,
    },
    async run(signal) {
      const tick = Math.max(50, Math.min(1000, Math.floor(config.policy.maxAgeMs / 4)));
      let ticking = false;
      const timer = setInterval(() => {
        if (ticking || group.stopping.aborted) return;
        ticking = true;
        flushDue(false).finally(() => (ticking = false));
      }, tick);
      try {
        await group.run(signal);
      } finally {
        clearInterval(timer);
      }
    },
    close: () => group.close(),
  };
}
