/**
 * The bridge's append retry (shared/retry.ts): a batch Redis refuses is
 * retried with backoff, nothing acknowledged meanwhile, and lands exactly
 * once when Redis takes it again.
 */
import assert from "node:assert/strict";
import { withRunning } from "@vigil/tools/testing/wait";
import { waitFor } from "@vigil/tools/testing/kafka";
import { Registry } from "@vigil/shared/metrics";
import { sampleValue } from "@vigil/tools/testing/metrics";
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

Deno.test(
  "the bridge's /health fails redis while Redis answers PING but refuses every append, and recovers",
  opts,
  async () => {
    await withKafkaAndRedis({ brokers: 1, partitions: 1 }, async ({ kafka, redis, keys }) => {
      // As Redis out of memory or a read-only replica: PING answers, every append is refused.
      await redis.set(keys.events("logs"), "not a stream");
      const messages = validMessages(300);
      await produce(kafka, messages);
      const metrics = new Registry();
      const bridge = quietBridge({ kafka, redis, keys }, { appendStuckAfterMs: 1000 }, metrics);
      const errors = metrics.counter("vigil_bridge_redis_errors_total", "");
      await withRunning(bridge, async () => {
        await waitFor(async () => (await sampleValue(errors)) >= 1, {
          timeoutMs: 30_000,
          what: "an append refused",
        });
        let health: unknown;
        await waitFor(async () => (health = await bridge.checks.redis!()) !== true, {
          timeoutMs: 10_000,
          what: "the redis check failing",
        });
        const detail = health as { status: string; message: string; error: string };
        assert.equal(detail.status, "fail");
        assert.match(detail.message, /^every append of logs:0 refused for \d+ s$/);
        assert.match(detail.error, /WRONGTYPE/);
        // The messages waiting in Kafka show as lag (before: none, the batch never appended).
        const lag = metrics.gauge("vigil_bridge_consumer_lag", "", ["topic", "partition"]);
        const logs = messages.filter((m) => m.topic === "logs").length;
        assert.equal(await sampleValue(lag, { topic: "logs" }), logs);
        await redis.del(keys.events("logs"));
        await waitFor(async () => (await bridge.checks.redis!()) === true, {
          timeoutMs: 30_000,
          what: "the redis check passing once Redis takes the appends",
        });
      });
    });
  },
);
