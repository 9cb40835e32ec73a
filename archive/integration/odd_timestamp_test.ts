/**
 * Kafka timestamps are whatever the producer set (CreateTime): -1, far in the
 * past, or far beyond what a JavaScript Date holds (int64 ms). The archive
 * must still store every message; a key it cannot build would stall the
 * partition for good (the object is never stored, the offset never committed).
 */
import assert from "node:assert/strict";
import { withRunning } from "@vigil/tools/testing/wait";
import { waitFor, withKafka } from "@vigil/tools/testing/kafka";
import { produce, testKafka } from "@vigil/tools/testing/bridge";
import { createDirStore } from "../store.ts";
import { files as objectFiles, logsArchive } from "./_helpers.ts";
import { gunzip } from "@vigil/tools/testing/archive";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "createArchive() stores messages whose Kafka timestamp a Date cannot hold, in readable folders",
  opts,
  async () => {
    await withKafka({ brokers: 1, partitions: 1, topics: ["logs"] }, async (cluster) => {
      const dir = await Deno.makeTempDir({ prefix: "vigil-archive-odd-ts-" });
      try {
        const kafka = testKafka(cluster.brokers);
        // Beyond a Date (±8.64e15 ms), beyond year 9999, then an ordinary one.
        const stamps = ["9000000000000000", "253402300800000", String(Date.now())];
        await produce(
          kafka,
          stamps.map((timestamp, n) => ({
            topic: "logs",
            message: { key: "k", value: `{"n":${n}}`, timestamp },
          })),
          1,
        );
        const archive = logsArchive({ kafka, store: createDirStore(dir) }, {
          policy: { maxMessages: 1, maxBytes: 1 << 30, maxAgeMs: 200 },
        });
        await withRunning(archive, async () => {
          await waitFor(async () => (await objectFiles(dir)).length === stamps.length, {
            timeoutMs: 30_000, // a group join first: over 4 s on a loaded machine
            what: "every message stored",
          });
        });
        const files = await objectFiles(dir);
        const offsets = [];
        for (const f of files) {
          // Every folder reads `dt=YYYY-MM-DD/hour=HH` (out-of-range times count as 0).
          assert.match(f.slice(dir.length), /^\/raw\/logs\/dt=\d{4}-\d\d-\d\d\/hour=\d\d\/0-\d+/);
          const [line] = (await gunzip(await Deno.readFile(f))).split("\n");
          offsets.push(Number(JSON.parse(line!).offset));
        }
        assert.deepEqual(offsets.sort(), [0, 1, 2]);
        assert.equal(
          files.filter((f) => f.includes("/dt=1970-01-01/hour=00/")).length,
          2,
          files.join("\n"),
        );
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
);
