/**
 * A timed flush whose object is stored but whose progress record fails, while
 * Kafka's retention deletes the start of that object (not all of it): the
 * partition must not be archived again from the new log start, or the offsets
 * between the log start and the stored object's end are in two objects.
 */
import assert from "node:assert/strict";
import { waitFor, withKafka } from "@vigil/tools/testing/kafka";
import { logBounds, testKafka } from "@vigil/tools/testing/bridge";
import { createDirStore } from "../store.ts";
import { archivedOffsets, bigLogs, logsArchive, withPut } from "./_helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "createArchive(): retention inside a stored object whose progress record failed: no offset in two objects",
  opts,
  async () => {
    await withKafka({ brokers: 1, partitions: 1, topics: ["logs"] }, async (cluster) => {
      const dir = await Deno.makeTempDir({ prefix: "vigil-archive-overlap-" });
      const kafka = testKafka(cluster.brokers);
      const producer = kafka.producer();
      await producer.connect();
      let next = 0;
      /** Produce `n` ~1 KB messages in record batches of `chunk`. */
      const send = async (n: number, chunk: number) => {
        for (let i = 0; i < n; i += chunk) {
          const messages = bigLogs(next, chunk).map((m) => m.message);
          await producer.send({ topic: "logs", messages });
          next += chunk;
        }
      };
      try {
        const inner = createDirStore(dir);
        let armed = true;
        let low = 0;
        const store = withPut(inner, async (key, body) => {
          if (!armed || !key.includes("/progress/")) return await inner.put(key, body);
          armed = false;
          // The object 0–99 is stored. Kafka deletes its first record batches (of 10), not
          // all of it; then the progress record fails (an S3 hiccup).
          await send(4000, 500);
          while (low === 0) {
            await send(10, 10);
            ({ low } = await logBounds(kafka, "logs"));
          }
          throw new Error("store unavailable");
        });
        await send(100, 10);
        const archive = logsArchive({ kafka, store }, {
          sessionTimeoutMs: 60_000,
          policy: { maxMessages: 1_000_000, maxBytes: 1 << 30, maxAgeMs: 500 },
        });
        const controller = new AbortController();
        const running = archive.run(controller.signal);
        try {
          await waitFor(async () => {
            if (armed || low === 0) return false;
            const archived = new Set(await archivedOffsets(dir));
            return archived.size >= next && archived.has(next - 1);
          }, { timeoutMs: 60_000, what: "every offset archived" });
        } finally {
          controller.abort();
          await running;
        }
        assert.ok(low > 0 && low < 100, `the log start moved inside the stored object (${low})`);
        const archived = await archivedOffsets(dir);
        const twice = archived.filter((o, i) => archived[i - 1] === o);
        assert.deepEqual(
          twice.length === 0 ? [] : [twice[0], twice.at(-1), twice.length],
          [],
          "offsets archived twice (first, last, count)",
        );
      } finally {
        await producer.disconnect();
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
);
