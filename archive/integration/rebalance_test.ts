/**
 * A put that outlives its member's claim on the partition: archive A's store
 * refuses A's objects and its timed flushes retry; meanwhile archive B joins
 * the group and takes one of A's two partitions. B re-reads it from the
 * committed offset, stores an object under the same key as A's (the same
 * first offset) holding more offsets, and commits past them. When A's store
 * takes writes again, A's old put must not replace B's object: the offsets
 * only B's object held would be lost for good, Kafka having committed past
 * them. "Busy": more messages came meanwhile, so A's batches wait behind the
 * retrying flushes and A learns of the rebalance only from their heartbeats.
 */
import assert from "node:assert/strict";
import type { Kafka } from "kafkajs";
import { waitFor, withKafka } from "@vigil/tools/testing/kafka";
import { createLogger } from "@vigil/shared/log";
import { produce, testKafka } from "@vigil/tools/testing/bridge";
import { type Archive } from "../archive.ts";
import { createDirStore } from "../store.ts";
import { archivedCoordinates, bigLogs, logsArchive, withPut } from "./_helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/**
 * `kafka` whose consumers keep their latest assignment (partitions of `logs`) in `owned`, and
 * count the batches they start in `batches.n`.
 */
function watched(
  kafka: Kafka,
  owned: Set<number>,
  batches = { n: 0 },
): Pick<Kafka, "consumer" | "admin"> {
  return {
    consumer(config) {
      const c = kafka.consumer(config);
      c.on(c.events.START_BATCH_PROCESS, () => batches.n++);
      c.on(c.events.GROUP_JOIN, (e) => {
        owned.clear();
        for (const p of e.payload.memberAssignment["logs"] ?? []) owned.add(p);
      });
      return c;
    },
    admin: (config) => kafka.admin(config),
  };
}

/** `n` `logs` messages (numbered from `from`) to `partition`. */
const logsTo = (partition: number, from: number, n: number) =>
  bigLogs(from, n).map((m) => ({ ...m, message: { ...m.message, partition } }));

/** `partition:offset` for offsets `0…n-1`. */
const range = (partition: number, n: number) =>
  Array.from({ length: n }, (_, i) => `${partition}:${i}`);

for (const busy of [false, true]) {
  Deno.test(
    `createArchive(): a put retrying across a rebalance never replaces the new owner's object${
      busy ? " (busy)" : ""
    }`,
    opts,
    async () => {
      await withKafka({ brokers: 1, partitions: 2, topics: ["logs"] }, async (cluster) => {
        const dir = await Deno.makeTempDir({ prefix: "vigil-archive-rebalance-" });
        const early = 40;
        const late = busy ? 10 : 0;
        const first = early + late;
        const more = 25;
        const runs: { controller: AbortController; running: Promise<void> }[] = [];
        const start = (archive: Archive) => {
          const controller = new AbortController();
          runs.push({ controller, running: archive.run(controller.signal) });
        };
        try {
          const kafka = testKafka(cluster.brokers);
          const inner = createDirStore(dir);
          // A's store: objects fail until released (progress records pass).
          let released = false;
          let refused = 0;
          const storedAfterRelease: string[] = [];
          const attemptedAt = new Map<string, number>(); // A's latest attempt per object key
          const storeA = withPut(inner, async (key, body) => {
            if (!key.endsWith(".ndjson.gz")) return await inner.put(key, body);
            attemptedAt.set(key, Date.now());
            if (!released) {
              refused++;
              throw new Error("store unavailable");
            }
            await inner.put(key, body);
            storedAfterRelease.push(key);
          });
          const warnings: string[] = [];
          const ownedA = new Set<number>();
          const ownedB = new Set<number>();
          const batchesA = { n: 0 };
          await produce(kafka, [...logsTo(0, 0, early), ...logsTo(1, 0, early)], 100);
          const a = logsArchive({
            kafka: watched(kafka, ownedA, batchesA),
            store: storeA,
            log: createLogger({ service: "a", level: "warn", write: (l) => warnings.push(l) }),
          }, {
            sessionTimeoutMs: 6000,
            policy: { maxMessages: 1_000_000, maxBytes: 1 << 30, maxAgeMs: 300 },
          });
          start(a);
          await waitFor(() => refused >= 4, { timeoutMs: 20_000, what: "A's objects refused" });
          if (busy) {
            const before = batchesA.n;
            await produce(kafka, [...logsTo(0, early, late), ...logsTo(1, early, late)], 100);
            await waitFor(() => batchesA.n >= before + 2, {
              timeoutMs: 10_000,
              what: "A's batches",
            });
          }

          // B takes one partition; its object of it holds exactly every offset produced to it.
          const b = logsArchive({ kafka: watched(kafka, ownedB), store: inner }, {
            sessionTimeoutMs: 6000,
            policy: { maxMessages: first + more, maxBytes: 1 << 30, maxAgeMs: 600_000 },
          });
          start(b);
          await waitFor(() => ownedA.size === 1 && ownedB.size === 1, {
            timeoutMs: 60_000,
            what: "A and B owning a partition each",
          });
          const moved = [...ownedB][0]!;
          await produce(kafka, logsTo(moved, first, more), 100);
          const movedOnes = async () =>
            (await archivedCoordinates(dir)).filter((c) => c.startsWith(`${moved}:`));
          await waitFor(async () => (await movedOnes()).length === first + more, {
            timeoutMs: 30_000,
            what: "B's object stored",
          });
          assert.deepEqual(await movedOnes(), range(moved, first + more));

          released = true;
          // A's put of the moved partition either stores its object at its next attempt (at most
          // 10 s away) or was given up when the partition left A (A says it will be re-read).
          const movedKey = `/${moved}-0.ndjson.gz`;
          await waitFor(
            async () =>
              (await archivedCoordinates(dir)).filter((c) => !c.startsWith(`${moved}:`)).length >=
                first &&
              (storedAfterRelease.some((k) => k.endsWith(movedKey)) ||
                warnings.some((l) => l.includes("will be re-read") && l.includes(`logs:${moved}`))),
            { timeoutMs: 30_000, what: "A's partition stored, A's put of B's partition settled" },
          );
          // Not only 500 ms: until A's next attempt at the moved partition's object would have come
          // (its retries are at most 10 s apart), so a put that outlived the rebalance has landed.
          const lastAttempt = Math.max(
            0,
            ...[...attemptedAt].filter(([k]) => k.endsWith(movedKey)).map(([, at]) => at),
          );
          await new Promise((r) => setTimeout(r, Math.max(500, lastAttempt + 12_000 - Date.now())));
          assert.deepEqual(
            await archivedCoordinates(dir),
            [0, 1].flatMap((p) => range(p, p === moved ? first + more : first)),
            "every offset archived exactly once",
          );
        } finally {
          for (const r of runs) r.controller.abort();
          await Promise.all(runs.map((r) => r.running));
          await Deno.remove(dir, { recursive: true });
        }
      });
    },
  );
}
