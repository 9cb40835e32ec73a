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
import type { createGapTracker, Gap } from "@vigil/shared/kafka_gaps";
import type { ArchiveStore } from "./store.ts";

/** Where each partition is, and its holes. */
export interface ArchiveProgress {
  /** Record a hole before `first` once (below the log start only), as a gap object. */
  checkHole(topic: string, partition: number, first: bigint): Promise<void>;
  /** The next offset expected in a partition, after a batch. */
  expect(topic: string, partition: number, next: bigint): void;
  /** Write the progress record: `next` is the offset after the last object stored. */
  save(topic: string, partition: number, next: string): Promise<void>;
  /** Forget the expected offsets (a new generation re-reads the progress records). */
  clear(): void;
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

  const progressKey = (topic: string, partition: number) =>
    `${prefix}/${topic}/progress/${partition}.json`;
  const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value) + "\n");

  async function storedProgress(topic: string, partition: number): Promise<bigint | null> {
    const body = await store.get(progressKey(topic, partition));
    if (body === null) return null;
    const next = JSON.parse(new TextDecoder().decode(body)).next;
    return typeof next === "string" && /^\d+$/.test(next) ? BigInt(next) : null;
  }

  return {
    async checkHole(topic, partition, first) {
      const key = `${topic}:${partition}`;
      let next = expected.get(key);
      if (next === undefined) {
        next = await storedProgress(topic, partition);
        expected.set(key, next);
      }
      if (next === null || first <= next) return;
      const start = await gaps.logStart(topic, partition);
      const lostTo = (first < start ? first : start) - 1n;
      if (lostTo < next) return; // transaction markers or compacted records only
      const gap: Gap = {
        from: next.toString(),
        to: lostTo.toString(),
        count: Number(lostTo - next + 1n),
      };
      const body = json({
        topic,
        partition,
        ...gap,
        reason: "deleted by Kafka (retention) before the archive read them",
        recorded_at: new Date(now()).toISOString(),
      });
      await deps.put(
        `${prefix}/${topic}/gaps/${partition}-${gap.from}-${gap.to}.json`,
        body,
        "store gap record",
      );
      gaps.record(topic, partition, gap);
    },
    expect(topic, partition, next) {
      expected.set(`${topic}:${partition}`, next);
    },
    save(topic, partition, next) {
      return store.put(progressKey(topic, partition), json({ next }));
    },
    clear() {
      expected.clear();
    },
  };
}
