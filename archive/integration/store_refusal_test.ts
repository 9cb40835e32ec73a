/**
 * A store that answers its check and refuses every object (a full or
 * read-only disk, S3 denying PutObject): the archive retries the object for
 * ever, and its `/health` must fail `store` meanwhile, not stay green while
 * nothing is archived; it passes again once the store takes the object.
 */
import assert from "node:assert/strict";
import { waitFor, withKafka } from "@vigil/tools/testing/kafka";
import { Registry } from "@vigil/shared/metrics";
import { sampleValue } from "@vigil/tools/testing/metrics";
import { produce, testKafka } from "@vigil/tools/testing/bridge";
import { createDirStore } from "../store.ts";
import { blockObjectFolder, logsArchive } from "./_helpers.ts";

Deno.test(
  "the archive's /health fails store while the store refuses every object, and recovers",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    await withKafka({ brokers: 1, partitions: 1, topics: ["logs"] }, async (cluster) => {
      const dir = await Deno.makeTempDir({ prefix: "vigil-archive-refusal-" });
      try {
        // A file where the objects' folder goes: the store's check (the root folder) and reads
        // pass, every object write fails, as on a disk that refuses writes.
        const blocker = await blockObjectFolder(dir);
        const kafka = testKafka(cluster.brokers);
        const timestamp = String(Date.UTC(2026, 0, 1, 12));
        await produce(kafka, [{
          topic: "logs",
          message: { key: "k", value: '{"n":1}', timestamp },
        }]);
        const metrics = new Registry();
        const archive = logsArchive({ kafka, store: createDirStore(dir), metrics }, {
          policy: { maxMessages: 1, maxBytes: 1 << 20, maxAgeMs: 200 },
          stuckAfterMs: 1000,
        });
        const errors = metrics.counter("vigil_archive_store_errors_total", "");
        const controller = new AbortController();
        const running = archive.run(controller.signal);
        try {
          await waitFor(async () => (await sampleValue(errors)) >= 1, {
            timeoutMs: 30_000,
            what: "an object write refused",
          });
          let health: unknown;
          await waitFor(async () => (health = await archive.checks.store!()) !== true, {
            timeoutMs: 10_000,
            what: "the store check failing",
          });
          const detail = health as { status: string; message: string };
          assert.equal(detail.status, "fail");
          assert.match(detail.message, /^every object write of raw\/logs\/.* refused for \d+ s$/);
          await Deno.remove(blocker);
          await waitFor(async () => (await archive.checks.store!()) === true, {
            timeoutMs: 30_000,
            what: "the store check passing once the store takes the object",
          });
        } finally {
          controller.abort();
          await running;
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
);
