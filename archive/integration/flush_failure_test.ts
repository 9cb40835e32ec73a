/**
 * A timed flush that fails after its object was stored (the progress record
 * or the commit fails once): the record and the commit are retried. When Kafka
 * deleted the offsets after the object meanwhile (retention), gap detection
 * must go on from the offset after the stored object: below it everything is
 * archived (a gap there would be a false one), above it what Kafka deleted is
 * a gap (none would be a silent loss). Every offset ends up archived or in a
 * gap, never both.
 */
import assert from "node:assert/strict";
import { waitFor, withKafka } from "@vigil/tools/testing/kafka";
import { KafkaApiKey } from "@vigil/tools/dev/kafka_mock";
import { Registry } from "@vigil/shared/metrics";
import { logBounds, produce, testKafka } from "@vigil/tools/testing/bridge";
import { createDirStore } from "../store.ts";
import { archivedOffsets, bigLogs, files, logsArchive, withPut } from "./_helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
/** Kafka's OFFSET_METADATA_TOO_LARGE: a commit error kafkajs does not retry. */
const OFFSET_METADATA_TOO_LARGE = 12;

async function gapRecords(dir: string): Promise<{ from: number; to: number }[]> {
  const out = [];
  for (const f of (await files(dir, ".json")).filter((f) => f.includes("/gaps/"))) {
    const g = JSON.parse(await Deno.readTextFile(f));
    out.push({ from: Number(g.from), to: Number(g.to) });
  }
  return out;
}

for (const step of ["progress record", "commit"] as const) {
  Deno.test(
    `createArchive(): a timed flush whose ${step} fails, then retention: no false gap, no loss`,
    opts,
    async () => {
      await withKafka({ brokers: 1, partitions: 1, topics: ["logs"] }, async (cluster) => {
        const dir = await Deno.makeTempDir({ prefix: "vigil-archive-flush-fail-" });
        try {
          const kafka = testKafka(cluster.brokers);
          const inner = createDirStore(dir);
          let armed = true;
          let deleted = false;
          // The first progress record: Kafka deletes the object's offsets (and more) first,
          // then the record or the commit after it fails.
          const store = withPut(inner, async (key, body) => {
            if (!armed || !key.includes("/progress/")) return await inner.put(key, body);
            armed = false;
            await produce(kafka, bigLogs(100, 12_000), 200);
            deleted = true;
            if (step === "progress record") throw new Error("store unavailable");
            await inner.put(key, body);
            cluster.pushRequestErrors(KafkaApiKey.OffsetCommit, [OFFSET_METADATA_TOO_LARGE]);
          });
          await produce(kafka, bigLogs(0, 100), 100);
          const metrics = new Registry();
          const archive = logsArchive({ kafka, store, metrics }, {
            // Producing the 12 MB inside the store takes seconds: stay in the group.
            sessionTimeoutMs: 60_000,
            policy: { maxMessages: 1_000_000, maxBytes: 1 << 30, maxAgeMs: 500 },
          });
          const controller = new AbortController();
          const running = archive.run(controller.signal);
          let low = 0;
          let high = 0;
          try {
            await waitFor(async () => {
              if (!deleted) return false;
              ({ low, high } = await logBounds(kafka, "logs"));
              const archived = new Set(await archivedOffsets(dir));
              const gapped = (await gapRecords(dir)).reduce((n, g) => n + g.to - g.from + 1, 0);
              return archived.size + gapped >= high;
            }, { timeoutMs: 60_000, what: "every offset archived or in a gap" });
          } finally {
            controller.abort();
            await running;
          }
          assert.ok(low > 100, `the mock deleted the re-read offsets (log start ${low})`);
          const archived = await archivedOffsets(dir);
          const gaps = await gapRecords(dir);
          // The stored object holds 0–99; what the archive read before the deletion is archived
          // too. Each offset below the log start is archived or in the one gap, never both.
          assert.equal(gaps.length, 1, JSON.stringify(gaps));
          const gap = gaps[0]!;
          assert.ok(gap.from >= 100 && gap.to === low - 1, JSON.stringify(gaps));
          assert.deepEqual([...new Set(archived)], [
            ...Array.from({ length: gap.from }, (_, i) => i),
            ...Array.from({ length: high - low }, (_, i) => low + i),
          ]);
          assert.match(
            await metrics.render(),
            new RegExp(
              `vigil_archive_skipped_messages_total\\{topic="logs"\\} ${low - gap.from}\\n`,
            ),
          );
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      });
    },
  );
}

Deno.test(
  "createArchive(): a size flush whose progress record fails once is stored again at once",
  opts,
  async () => {
    await withKafka({ brokers: 1, partitions: 1, topics: ["logs"] }, async (cluster) => {
      const dir = await Deno.makeTempDir({ prefix: "vigil-archive-size-flush-fail-" });
      try {
        const kafka = testKafka(cluster.brokers);
        const inner = createDirStore(dir);
        let failures = 0;
        // One S3 hiccup (503 SlowDown past the SDK's own attempts) on the first progress record.
        const store = withPut(inner, async (key, body) => {
          if (key.includes("/progress/") && failures++ === 0) throw new Error("SlowDown");
          await inner.put(key, body);
        });
        await produce(kafka, bigLogs(0, 100), 100);
        const archive = logsArchive({ kafka, store }, {
          policy: { maxMessages: 30, maxBytes: 1 << 30, maxAgeMs: 300 },
        });
        const controller = new AbortController();
        const running = archive.run(controller.signal);
        try {
          // "At once" counts from the failure: the group join before it took over 4 s under load.
          await waitFor(() => failures > 0, { what: "the failed progress record" });
          await waitFor(async () => new Set(await archivedOffsets(dir)).size === 100, {
            timeoutMs: 4000,
            what: "every offset archived",
          });
        } finally {
          controller.abort();
          await running;
        }
        const archived = await archivedOffsets(dir);
        assert.equal(archived.length, 100, "each offset in one object");
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
);
