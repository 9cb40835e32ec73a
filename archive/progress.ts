/**
 * The archive's own record of where each partition is, and the gaps it finds
 * with it (see `archive.ts`, "Gaps"): the offset after the last object stored
 * (`<prefix>/<topic>/progress/<partition>.json`, written before the offset is
 * committed), and the gap objects `<prefix>/<topic>/gaps/<partition>-<from>-<to>.json`
 * for offsets Kafka deleted before the archive read them. Kafka's committed
 * offset cannot serve: once kafkajs found it out of range, it resets it to
 * "earliest".
 *
 * @module
 */
import type { createGapTracker } from "@vigil/shared/kafka_gaps";
import type { ArchiveStore } from "./store.ts";
import { gapKey, parseProgress, progressKey } from "./format.ts";

/** Where each partition is, and its holes. */
export interface ArchiveProgress {
  /**
   * Before a batch that starts at `first` (the Kafka timestamp of its first
   * message `firstTimestamp`): when the partition's high watermark is below
   * the next offset expected, or its record names another Kafka cluster,
   * its log started again (topic created again, another cluster): the new log is named by `firstTimestamp` from now on
   * (the previous name + 1 when that is not later: names only grow)
   * (recorded at once) and `"reset"` is returned (`"other-cluster"` when the
   * record names another cluster). Otherwise a hole before
   * `first` is recorded once (below the log start only), as a gap object.
   */
  check(
    topic: string,
    partition: number,
    batch: { first: bigint; highWatermark: bigint; firstTimestamp: number },
  ): Promise<"reset" | "other-cluster" | "ok">;
  /** The partition's log name for object keys: 0 for the first log, else the first timestamp of a log that started again. */
  logOf(topic: string, partition: number): number;
  /** The next offset expected in a partition, after a batch. */
  expect(topic: string, partition: number, next: bigint): void;
  /**
   * Write the progress record: `next` is the offset after the last object stored; not once
   * `signal` (the object's generation) aborted.
   */
  save(topic: string, partition: number, next: string, signal?: AbortSignal): Promise<void>;
  /** Forget the expected offsets (a new generation re-reads the progress records). */
  clear(): void;
  /** The id of the Kafka cluster read now: a record of another cluster is a reset too. */
  setCluster(id: string): void;
}

/** Create the progress record of an archive. */
export function createArchiveProgress(deps: {
  store: ArchiveStore;
  /** First segment of every key. */
  prefix: string;
  gaps: ReturnType<typeof createGapTracker>;
  /** Store a gap object (retrying). */
  put: (key: string, body: Uint8Array, what?: string) => Promise<void>;
  now: () => number;
}): ArchiveProgress {
  const { store, prefix, gaps, now } = deps;
  /** Per partition, the next offset expected (gap detection); filled at the first batch. */
  const expected = new Map<string, bigint | null>();
  /** Per partition, the log name ({@link ArchiveProgress.logOf}); read with `expected`. */
  const logs = new Map<string, number>();
  let cluster: string | null = null;

  const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value) + "\n");

  const save = (topic: string, partition: number, next: string, signal?: AbortSignal) => {
    const log = logs.get(`${topic}:${partition}`) ?? 0;
    const record = { next, ...(log ? { log } : {}), ...(cluster ? { cluster } : {}) };
    return store.put(progressKey(prefix, topic, partition), json(record), signal);
  };

  return {
    async check(topic, partition, { first, highWatermark, firstTimestamp }) {
      const key = `${topic}:${partition}`;
      let next = expected.get(key);
      let otherCluster = false;
      if (next === undefined) {
        const stored = parseProgress(await store.get(progressKey(prefix, topic, partition)));
        next = stored.next;
        expected.set(key, next);
        logs.set(key, stored.log);
        otherCluster = stored.cluster !== null && cluster !== null && stored.cluster !== cluster;
      }
      if (next !== null && (highWatermark < next || otherCluster)) {
        // Never 0 (the first log's name), and never an earlier log's: names only grow, so a
        // log whose first message has the time of an earlier one (the same messages replayed
        // into it) does not replace that log's objects (only the current name is recorded).
        const name = Number.isSafeInteger(firstTimestamp) && firstTimestamp > 0
          ? firstTimestamp
          : now();
        const current = logs.get(key) ?? 0;
        logs.set(key, name > current ? name : current + 1);
        expected.set(key, null);
        await save(topic, partition, first.toString());
        return otherCluster ? "other-cluster" : "reset";
      }
      if (next === null || first <= next) return "ok";
      const gap = await gaps.lost(topic, partition, next, first);
      if (!gap) return "ok"; // transaction markers or compacted records only
      const body = json({
        topic,
        partition,
        ...gap,
        reason: "deleted by Kafka (retention) before the archive read them",
        recorded_at: new Date(now()).toISOString(),
      });
      await deps.put(
        gapKey(prefix, topic, partition, gap),
        body,
        "store gap record",
      );
      gaps.record(topic, partition, gap);
      return "ok";
    },
    logOf(topic, partition) {
      return logs.get(`${topic}:${partition}`) ?? 0;
    },
    expect(topic, partition, next) {
      expected.set(`${topic}:${partition}`, next);
    },
    save,
    clear() {
      expected.clear();
      logs.clear();
    },
    setCluster(id) {
      cluster = id;
    },
  };
}
