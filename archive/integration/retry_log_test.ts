/**
 * A store that refuses every object while several are being retried (a full
 * disk): the log says so in one line for all of them (how many, the first
 * error), not a line per object and attempt (38 objects wrote 114 warnings in
 * the first second, then 38 a minute), and once more when they are stored.
 */
import assert from "node:assert/strict";
import { waitFor, withKafka } from "@vigil/tools/testing/kafka";
import { createLogger } from "@vigil/shared/log";
import { Registry } from "@vigil/shared/metrics";
import { sampleValue } from "@vigil/tools/testing/metrics";
import { produce, testKafka } from "@vigil/tools/testing/bridge";
import { createDirStore } from "../store.ts";
import { blockObjectFolder, logsArchive } from "./_helpers.ts";

const PARTITIONS = 4;

Deno.test(
  "the archive logs one warning for all the objects a refusing store holds back, then their recovery",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    await withKafka(
      { brokers: 1, partitions: PARTITIONS, topics: ["logs"] },
      async (cluster) => {
        const dir = await Deno.makeTempDir({ prefix: "vigil-archive-retry-log-" });
        try {
          // A file where the objects' folder goes: every object write fails (as on a full disk).
          const blocker = await blockObjectFolder(dir);
          const kafka = testKafka(cluster.brokers);
          const timestamp = String(Date.UTC(2026, 0, 1, 12));
          await produce(
            kafka,
            Array.from({ length: PARTITIONS }, (_, partition) => ({
              topic: "logs",
              message: { key: `k${partition}`, value: '{"n":1}', timestamp, partition },
            })),
          );
          const lines: Record<string, unknown>[] = [];
          const log = createLogger({
            service: "archive",
            level: "debug",
            write: (l) => lines.push(JSON.parse(l)),
          });
          const metrics = new Registry();
          const archive = logsArchive({ kafka, store: createDirStore(dir), log, metrics }, {
            policy: { maxMessages: 1, maxBytes: 1 << 20, maxAgeMs: 200 },
          });
          const errors = metrics.counter("vigil_archive_store_errors_total", "");
          const controller = new AbortController();
          const running = archive.run(controller.signal);
          const storeLines = () =>
            lines.filter((l) => /^cannot store/.test(String(l.msg)) && l.level === "warn");
          try {
            // Every object refused at least 3 times (the per-object loops warned 3 times each).
            await waitFor(async () => (await sampleValue(errors)) >= PARTITIONS * 3, {
              timeoutMs: 30_000,
              what: "each object refused three times",
            });
            await waitFor(() => storeLines().length > 0, {
              timeoutMs: 10_000,
              what: "the warning",
            });
            const warned = storeLines();
            assert.equal(warned.length, 1, JSON.stringify(warned, null, 1));
            const line = warned[0]!;
            assert.equal(line.msg, "cannot store objects, retrying");
            assert.ok(Number(line.failing) >= 1 && Number(line.failing) <= PARTITIONS);
            assert.ok(Number(line.attempts) >= 1);
            assert.match(
              String((line.error as { message?: string }).message),
              /directory|exists/i,
            );
            assert.match(String((line.keys as string[])[0]), /^raw\/logs\/dt=2026-01-01\//);
            // Each attempt is still there, at debug.
            assert.ok(
              lines.filter((l) => l.level === "debug" && /^cannot store/.test(String(l.msg)))
                .length >= PARTITIONS * 3 - 1,
            );

            await Deno.remove(blocker);
            await waitFor(() => lines.some((l) => l.msg === "can store objects again"), {
              timeoutMs: 30_000,
              what: "the recovery line",
            });
            const back = lines.find((l) => l.msg === "can store objects again")!;
            assert.equal(back.level, "info");
            assert.ok(Number(back.attempts) >= PARTITIONS * 3);
            assert.equal(storeLines().length, 1, "no other warning");
          } finally {
            controller.abort();
            await running;
          }
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      },
    );
  },
);
