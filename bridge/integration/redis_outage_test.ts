/**
 * Redis out of reach for longer than the Kafka session timeout: the bridge
 * keeps its group membership while its batch waits (no rebalance, no
 * "coordinator is not aware of this member"), and every message lands
 * exactly once when Redis is back.
 */
import assert from "node:assert/strict";
import { withRunning } from "@vigil/tools/testing/wait";
import { waitFor } from "@vigil/tools/testing/kafka";
import { startTcpProxy } from "@vigil/tools/testing/tcp_proxy";
import { createLogger } from "@vigil/shared/log";
import { Registry } from "@vigil/shared/metrics";
import { createRedis } from "@vigil/shared/redis";
import { EVENT_TYPES } from "@vigil/shared/schemas/event";
import {
  assertExactlyOnce,
  countAll,
  kafkaCoordinates,
  produce,
  readAll,
  validMessages,
  withKafkaAndRedis,
} from "@vigil/tools/testing/bridge";
import { createBridge } from "../bridge.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "createBridge() keeps its Kafka group membership while Redis is out of reach longer than the session timeout",
  opts,
  async () => {
    await withKafkaAndRedis({ brokers: 1, partitions: 2 }, async ({ kafka, redis, keys }) => {
      const proxy = startTcpProxy({ hostname: "127.0.0.1", port: 6379 });
      const bridgeRedis = createRedis(`redis://127.0.0.1:${proxy.port}`);
      const lines: { msg: string; level: string }[] = [];
      const log = createLogger({
        service: "bridge",
        level: "info",
        write: (line) => lines.push(JSON.parse(line)),
      });
      const bridge = createBridge({
        kafka,
        redis: bridgeRedis,
        keys,
        log,
        metrics: new Registry(),
        config: { sessionTimeoutMs: 6000 },
      });
      try {
        const first = validMessages(400, 1);
        const second = validMessages(400, 2);
        await withRunning(bridge, async () => {
          await produce(kafka, first);
          await waitFor(async () => (await countAll(redis, keys)) >= first.length, {
            timeoutMs: 30_000,
            what: "the first messages in Redis",
          });
          proxy.cut();
          await produce(kafka, second);
          // Two and a half session timeouts with the batch waiting on Redis.
          await new Promise((r) => setTimeout(r, 15_000));
          proxy.restore();
          await waitFor(
            async () => (await countAll(redis, keys)) >= first.length + second.length,
            { timeoutMs: 60_000, what: "every message in Redis after the outage" },
          );
          await new Promise((r) => setTimeout(r, 500));
        });
        const joins = lines.filter((l) => l.msg === "joined consumer group");
        assert.equal(joins.length, 1, "one join: the outage did not cost the membership");
        const kafkajsErrors = lines.filter((l) => l.level === "error");
        assert.deepEqual(kafkajsErrors.map((l) => l.msg), [], "no error line");
        assertExactlyOnce(await readAll(redis, keys), await kafkaCoordinates(kafka, EVENT_TYPES));
      } finally {
        bridgeRedis.disconnect();
        await proxy.close();
      }
    });
  },
);
