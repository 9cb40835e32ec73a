/**
 * The archive falls behind the retention: Kafka deletes messages it has not
 * stored. The hole is recorded exactly (a gap object, the metric, the health
 * warning), and every retained message is archived once.
 */
import assert from "node:assert/strict";
import { waitFor, withKafka } from "@vigil/tools/testing/kafka";
import { Registry } from "@vigil/shared/metrics";
import { logBounds, produce, testKafka } from "@vigil/tools/testing/bridge";
import { createDirStore } from "../store.ts";
import { archivedOffsets, bigLogs, files, logsArchive } from "./_helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "createArchive() records the offsets Kafka deleted while it was stopped as one exact gap",
  opts,
  async () => {
    await withKafka({ brokers: 1, partitions: 1, topics: ["logs"] }, async (cluster) => {
      const dir = await Deno.makeTempDir({ prefix: "vigil-archive-gap-" });
      try {
        const kafka = testKafka(cluster.brokers);
        const start = (metrics: Registry) => {
          const archive = logsArchive({ kafka, store: createDirStore(dir), metrics }, {
            policy: { maxMessages: 1000, maxBytes: 1 << 30, maxAgeMs: 500 },
          });
          const controller = new AbortController();
          const running = archive.run(controller.signal);
          return { archive, stop: () => (controller.abort(), running) };
        };
        await produce(kafka, bigLogs(0, 100), 100);
        const first = start(new Registry());
        try {
          await waitFor(async () => (await archivedOffsets(dir)).length === 100, {
            timeoutMs: 30_000,
            what: "the first 100 archived",
          });
        } finally {
          await first.stop();
        }
        // While it is stopped, ~12 MB more: the mock keeps ~5 MB per partition.
        await produce(kafka, bigLogs(100, 12_000), 200);
        const { low, high } = await logBounds(kafka, "logs");
        assert.ok(low > 100, `the mock deleted the oldest messages (log start ${low})`);

        const metrics = new Registry();
        const second = start(metrics);
        try {
          await waitFor(async () => (await archivedOffsets(dir)).length === 100 + high - low, {
            timeoutMs: 60_000,
            what: "every retained message archived",
          });
          const health = await second.archive.checks.kafka_gaps!();
          assert.ok(typeof health === "object" && health.status === "warn", JSON.stringify(health));
          assert.equal(health.skipped_messages, low - 100);
        } finally {
          await second.stop();
        }
        assert.deepEqual(await archivedOffsets(dir), [
          ...Array.from({ length: 100 }, (_, i) => i),
          ...Array.from({ length: high - low }, (_, i) => low + i),
        ]);
        const gapFiles = (await files(dir, ".json")).filter((f) => f.includes("/gaps/"));
        assert.equal(gapFiles.length, 1, "one gap object");
        assert.match(gapFiles[0]!, new RegExp(`/logs/gaps/0-100-${low - 1}\\.json$`));
        const gap = JSON.parse(await Deno.readTextFile(gapFiles[0]!));
        assert.deepEqual([gap.from, gap.to, gap.count], ["100", String(low - 1), low - 100]);
        assert.match(
          await metrics.render(),
          new RegExp(`vigil_archive_skipped_messages_total\\{topic="logs"\\} ${low - 100}\\n`),
        );
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
);
