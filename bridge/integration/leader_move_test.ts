/**
 * Every partition's leader moves to another broker (a broker restarted, a reassignment) while
 * events flow. kafkajs answers the "not the leader" errors by refreshing its metadata and joining
 * the group again, so consumption pauses (on the dev Kafka, whose JoinGroup answers after seconds,
 * 10-40 s), then resumes: every Kafka offset in Redis exactly once.
 */
import assert from "node:assert/strict";
import { withRedis } from "@vigil/tools/testing/redis";
import { waitFor, withKafka } from "@vigil/tools/testing/kafka";
import { EVENT_TYPES } from "@vigil/shared/schemas/event";
import {
  assertExactlyOnce,
  countAll,
  kafkaCoordinates,
  produceUntil,
  quietBridge,
  readAll,
  testKafka,
} from "@vigil/tools/testing/bridge";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "createBridge() keeps consuming when every partition's leader moves to another broker",
  opts,
  async () => {
    await withKafka({ brokers: 3, partitions: 6, replicationFactor: 3 }, async (cluster) => {
      await withRedis(async ({ redis, keys }) => {
        const kafka = testKafka(cluster.brokers);
        const bridge = quietBridge({ kafka, redis, keys }, { sessionTimeoutMs: 6000 });
        const stopBridge = new AbortController();
        const running = bridge.run(stopBridge.signal);
        const stopProducing = new AbortController();
        const producing = produceUntil(kafka, stopProducing.signal, { batch: 100, pauseMs: 50 });
        try {
          await waitFor(async () => (await countAll(redis, keys)) > 1000, {
            timeoutMs: 30_000,
            what: "the bridge consuming",
          });
          for (const topic of EVENT_TYPES) {
            for (let p = 0; p < 6; p++) cluster.setLeader(topic, p, ((p + 1) % 3) + 1);
          }
          const atMove = await countAll(redis, keys);
          await waitFor(async () => (await countAll(redis, keys)) > atMove + 1000, {
            // 10-40 s seen alone; more under a loaded CI.
            timeoutMs: 120_000,
            what: "consumption after the leaders moved",
          });
          stopProducing.abort();
          await producing;
          const expected = await kafkaCoordinates(kafka, EVENT_TYPES);
          await waitFor(async () => (await countAll(redis, keys)) >= expected.length, {
            timeoutMs: 30_000,
            what: "every message in Redis",
          });
          assertExactlyOnce(await readAll(redis, keys), expected);
          assert.ok(expected.length > 2000);
        } finally {
          stopProducing.abort();
          await producing.catch(() => 0);
          stopBridge.abort();
          await running;
        }
      });
    });
  },
);
