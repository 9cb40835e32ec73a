/**
 * MAXLEN never trims what the detector has not processed: with the detector
 * behind, the bridge stops appending at BRIDGE_STREAM_MAXLEN (Kafka keeps the
 * rest, its offsets uncommitted), says so on /health and in its metrics, and
 * appends the rest once the detector caught up: every message reaches the
 * detector's group exactly once, in order. Before, XADD's MAXLEN trimmed the
 * oldest entries whether the group had read them or not.
 */
import assert from "node:assert/strict";
import { withRunning } from "@vigil/tools/testing/wait";
import { waitFor } from "@vigil/tools/testing/kafka";
import { Registry } from "@vigil/shared/metrics";
import { sampleValue } from "@vigil/tools/testing/metrics";
import { GROUPS } from "@vigil/shared/keys";
import { createGroup } from "@vigil/shared/redis";
import { numberedLogs, produce, quietBridge, withKafkaAndRedis } from "@vigil/tools/testing/bridge";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "createBridge() waits for the detector at MAXLEN instead of trimming what it has not read",
  opts,
  async () => {
    await withKafkaAndRedis({ brokers: 1, partitions: 2 }, async ({ kafka, redis, keys }) => {
      const stream = keys.events("logs");
      await createGroup(redis, stream, GROUPS.detector);
      const total = 3000;
      // Batches of 300 for chunks of 100: a batch is refused after its first chunk was taken.
      await produce(kafka, numberedLogs(0, total), 300);
      const metrics = new Registry();
      const bridge = quietBridge({ kafka, redis, keys }, { maxlen: 1000, chunkSize: 100 }, metrics);
      const full = metrics.counter("vigil_bridge_stream_full_total", "");
      await withRunning(bridge, async () => {
        await waitFor(async () => (await sampleValue(full)) >= 1, {
          timeoutMs: 30_000,
          what: "an append refused while the detector is behind",
        });
        const health = await bridge.checks.streams!();
        assert.equal(typeof health === "object" && health.status, "warn", JSON.stringify(health));
        const length = await redis.xlen(stream);
        assert.ok(length <= 1000, `${length} entries, none past MAXLEN`);
        const oldest = await redis.xrange(stream, "-", "+", "COUNT", 1);
        assert.match(oldest[0]![1][1]!, /n=0"/, "the oldest entry is still there");

        // The detector catches up: what it reads is every message, once, in order.
        const seen: number[] = [];
        await waitFor(async () => {
          const reply = await redis.xreadgroup(
            "GROUP",
            GROUPS.detector,
            "d",
            "COUNT",
            "500",
            "STREAMS",
            stream,
            ">",
          ) as [string, [string, string[]][]][] | null;
          const entries = reply?.[0]?.[1] ?? [];
          for (const [, fields] of entries) seen.push(Number(/n=(\d+)/.exec(fields[1]!)![1]));
          if (entries.length > 0) {
            await redis.xack(
              stream,
              GROUPS.detector,
              ...entries.map(([id]) => id),
            );
          }
          return seen.length >= total;
        }, { timeoutMs: 60_000, what: `the detector reading all ${total} messages` });
        assert.deepEqual(seen, Array.from({ length: total }, (_, i) => i));
        // Counted once each, though a refused batch's retry skips the chunks its attempts took.
        const text = await metrics.render();
        assert.match(text, new RegExp(`\nvigil_bridge_messages_total\\{type="logs"\\} ${total}\n`));
        assert.match(text, /\nvigil_bridge_duplicates_skipped_total 0\n/, "none redelivered");
      });
    });
  },
);
