import assert from "node:assert/strict";
import { withRunning } from "@vigil/tools/testing/wait";
import { waitFor, withKafka } from "@vigil/tools/testing/kafka";
import { silentLogger } from "@vigil/tools/testing/log";
import { Registry } from "@vigil/shared/metrics";
import { EVENT_TYPES } from "@vigil/shared/schemas/event";
import { produce, testKafka, validMessages } from "@vigil/tools/testing/bridge";
import { createArchive } from "../archive.ts";
import { createDirStore } from "../store.ts";
import { files as objectFiles } from "./_helpers.ts";
import { gunzip } from "@vigil/tools/testing/archive";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** `vigil_archive_lag` samples: `topic/partition` → value. */
function lagSamples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^vigil_archive_lag\{topic="(\w+)",partition="(\d+)"\} (\d+)$/gm)) {
    out.set(`${m[1]}/${m[2]}`, Number(m[3]));
  }
  return out;
}

Deno.test(
  "createArchive() reports zero lag once a time-based flush stored the last messages",
  opts,
  async () => {
    await withKafka({ brokers: 1, partitions: 2 }, async (cluster) => {
      const dir = await Deno.makeTempDir({ prefix: "vigil-archive-lag-" });
      try {
        const kafka = testKafka(cluster.brokers);
        const messages = validMessages(1500);
        await produce(kafka, messages);
        const metrics = new Registry();
        const archive = createArchive({
          kafka,
          store: createDirStore(dir),
          log: silentLogger(),
          metrics,
          // Size limits far away: only the time-based flush stores the objects.
          config: { policy: { maxMessages: 1_000_000, maxBytes: 1 << 30, maxAgeMs: 1000 } },
        });
        await withRunning(archive, async () => {
          await waitFor(
            async () => {
              let n = 0;
              for (const f of await objectFiles(dir)) {
                n += (await gunzip(await Deno.readFile(f))).split("\n").filter(Boolean).length;
              }
              return n === messages.length;
            },
            { timeoutMs: 30_000, what: "every message stored" },
          );
          // Caught up: no batch comes any more, and the gauge must say 0 everywhere (set once
          // the stored object's offsets are committed, a Kafka round trip after the file shows).
          const settled = (lag: Map<string, number>) =>
            lag.size === EVENT_TYPES.length * 2 && [...lag.values()].every((v) => v === 0);
          await waitFor(async () => settled(lagSamples(await metrics.render())), {
            timeoutMs: 10_000,
            what: "the lag gauge at 0 everywhere",
          }).catch(() => {});
          const lag = lagSamples(await metrics.render());
          assert.equal(lag.size, EVENT_TYPES.length * 2, JSON.stringify([...lag]));
          assert.deepEqual([...lag].filter(([, v]) => v !== 0), []);
        });
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
);
