/**
 * The bridge commits its Kafka offsets about once a second (bridge/commits.ts),
 * not after every batch as kafkajs' autoCommit would, and everything it
 * appended is committed soon after.
 */
import assert from "node:assert/strict";
import { waitFor } from "@vigil/tools/testing/kafka";
import { silentLogger } from "@vigil/tools/testing/log";
import { GROUPS } from "@vigil/shared/keys";
import { Registry } from "@vigil/shared/metrics";
import { EVENT_TYPES } from "@vigil/shared/schemas/event";
import { createBridge } from "../bridge.ts";
import { countAll, produce, validMessages, withKafkaAndRedis } from "@vigil/tools/testing/bridge";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "createBridge() commits offsets about once a second, not per batch, and all of them",
  opts,
  async () => {
    await withKafkaAndRedis({ brokers: 1, partitions: 6 }, async ({ kafka, redis, keys }) => {
      // Many small produce batches: many small fetch batches for the bridge.
      await produce(kafka, validMessages(6000), 50);
      let batches = 0;
      let commits = 0;
      const bridge = createBridge({
        kafka: {
          consumer: (config) => {
            const c = kafka.consumer(config);
            c.on(c.events.END_BATCH_PROCESS, () => batches++);
            c.on(c.events.REQUEST, (e) => {
              if (e.payload.apiName === "OffsetCommit") commits++;
            });
            return c;
          },
          admin: (config) => kafka.admin(config),
        },
        redis,
        keys,
        log: silentLogger(),
        metrics: new Registry(),
      });
      const controller = new AbortController();
      const started = performance.now();
      const running = bridge.run(controller.signal);
      const admin = kafka.admin();
      await admin.connect();
      try {
        await waitFor(async () => (await countAll(redis, keys)) >= 6000, {
          timeoutMs: 30_000,
          what: "every message in Redis",
        });
        // Committed up to the end of every partition soon after (about a second; the deadline is
        // for a busy machine: the rate below is over the time it took).
        await waitFor(async () => {
          for (const topic of EVENT_TYPES) {
            const ends = await admin.fetchTopicOffsets(topic);
            const [done] = await admin.fetchOffsets({ groupId: GROUPS.bridge, topics: [topic] });
            for (const e of ends) {
              const got = done!.partitions.find((p) => p.partition === e.partition)?.offset;
              if (e.high !== "0" && got !== e.high) return false; // (an empty one has none)
            }
          }
          return true;
        }, { timeoutMs: 30_000, what: "every offset committed" });
        const seconds = (performance.now() - started) / 1000;
        assert.ok(batches > 50, `${batches} batches`);
        assert.ok(
          commits <= Math.ceil(seconds) + 2,
          `${commits} commits in ${seconds.toFixed(1)} s for ${batches} batches`,
        );
      } finally {
        await admin.disconnect();
        controller.abort();
        await running;
      }
    });
  },
);
