/**
 * The bridge's append retry (shared/retry.ts): a batch Redis refuses is
 * retried with backoff, nothing acknowledged meanwhile, and lands exactly
 * once when Redis takes it again.
 */
import assert from "node:assert/strict";
import { withRunning } from "@vigil/tools/testing/wait";
import { waitFor } from "@vigil/tools/testing/kafka";
import { Registry, sampleValue } from "@vigil/shared/metrics";
import { EVENT_TYPES } from "@vigil/shared/schemas/event";
import {
  assertExactlyOnce,
  countAll,
  kafkaCoordinates,
  produce,
  quietBridge,
  readAll,
  validMessages,
  withKafkaAndRedis,
} from "@vigil/tools/testing/bridge";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "createBridge() retries a batch Redis refuses and appends it once when Redis takes it",
  opts,
  async () => {
    await withKafkaAndRedis({ brokers: 1, partitions: 2 }, async ({ kafka, redis, keys }) => {
      const messages = validMessages(600);
      // A string where the logs stream goes: every XADD to it fails (WRONGTYPE) in Redis.
      await redis.set(keys.events("logs"), "not a stream");
      await produce(kafka, messages);
      const metrics = new Registry();
      const bridge = quietBridge({ kafka, redis, keys }, {}, metrics);
      const errors = metrics.counter("vigil_bridge_redis_errors_total", "");
      await withRunning(bridge, async () => {
        await waitFor(async () => (await sampleValue(errors)) >= 2, {
          timeoutMs: 30_000,
          what: "the refused append retried",
        });
        const logs = messages.filter((m) => m.topic === "logs").length;
        assert.ok(logs > 0);
        assert.equal(await redis.type(keys.events("logs")), "string", "no log appended");
        await redis.del(keys.events("logs"));
        await waitFor(async () => (await countAll(redis, keys)) >= messages.length, {
          timeoutMs: 30_000,
          what: "every message in Redis",
        });
        await new Promise((r) => setTimeout(r, 300));
      });
      assertExactlyOnce(await readAll(redis, keys), await kafkaCoordinates(kafka, EVENT_TYPES));
    });
  },
);
