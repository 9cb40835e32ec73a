/**
 * The bridge's Kafka offset commits: the next offset of every partition
 * whose batch Redis accepted is committed once a second (and at shutdown),
 * not after every batch.
 *
 * kafkajs' own `autoCommit` with `eachBatch` commits after every batch
 * whatever `autoCommitInterval` says (kafkajs 2.2.4 `runner.js`:
 * `autoCommitOffsets()` calls `commitOffsets()` after each batch; tulios/kafkajs#1014):
 * an OffsetCommit round trip per partition batch, which cost the bridge
 * about a third of its CPU in `bench:pipeline`. The bridge runs with
 * `autoCommit: false` and commits here instead. A commit lost to a crash or a
 * rebalance only means a redelivery, which the append script skips.
 *
 * @module
 */
import type { Consumer } from "kafkajs";
import type { Logger } from "@vigil/shared/log";
import { withTimeout } from "@vigil/shared/lifecycle";

/** Options of {@link createCommitter}. */
export interface CommitterOptions {
  /** The consumer now (undefined between consumers). */
  consumer: () => Consumer | undefined;
  log: Logger;
  /** @default {1000} */
  intervalMs?: number;
}

/** Offsets resolved and not yet committed, committed periodically. */
export interface Committer {
  /** `next` is the next offset to read of `topic`/`partition` (its batch is in Redis). */
  resolve(topic: string, partition: number, next: string): void;
  /** Forget everything (after a rebalance the partitions may be another member's). */
  clear(): void;
  /** Commit what is resolved and not committed, through `consumer` (default the current one). */
  flush(options?: { consumer?: Consumer; timeoutMs?: number }): Promise<void>;
  /** Offsets resolved and not committed. */
  readonly pending: number;
  /** Commit every interval until {@link stop}. */
  start(): void;
  stop(): void;
}

/** Create the committer. */
export function createCommitter(options: CommitterOptions): Committer {
  const intervalMs = options.intervalMs ?? 1000;
  let resolved = new Map<string, { topic: string; partition: number; offset: string }>();
  let timer: ReturnType<typeof setInterval> | undefined;
  let running: Promise<void> | undefined;
  /** Bumped by clear(): a failed commit of an earlier assignment is not put back. */
  let generation = 0;

  async function flush(o: { consumer?: Consumer; timeoutMs?: number } = {}): Promise<void> {
    await running; // one commit at a time
    const consumer = o.consumer ?? options.consumer();
    if (!consumer || resolved.size === 0) return;
    const batch = resolved;
    const from = generation;
    resolved = new Map();
    running = (async () => {
      try {
        await withTimeout(
          consumer.commitOffsets([...batch.values()]),
          o.timeoutMs ?? 10_000,
          "offset commit",
        );
      } catch (error) {
        // Put back what was not superseded meanwhile; a redelivery is deduplicated anyway.
        if (from === generation) {
          for (const [k, v] of batch) if (!resolved.has(k)) resolved.set(k, v);
        }
        options.log.warn("cannot commit offsets, retrying at the next interval", { error });
      }
    })();
    await running;
  }

  return {
    resolve(topic, partition, next) {
      resolved.set(`${topic}\u0000${partition}`, { topic, partition, offset: next });
    },
    clear() {
      generation++;
      resolved.clear();
    },
    flush,
    get pending() {
      return resolved.size;
    },
    start() {
      timer ??= setInterval(() => void flush(), intervalMs);
    },
    stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
  };
}
