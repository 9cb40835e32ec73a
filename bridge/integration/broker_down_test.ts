import assert from "node:assert/strict";
import { withRedis } from "@vigil/tools/testing/redis";
import { waitFor, withKafka } from "@vigil/tools/testing/kafka";
import { GROUPS } from "@vigil/shared/keys";
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
  "createBridge() loses no message while a broker goes down and comes back",
  opts,
  async () => {
    await withKafka({ brokers: 3, partitions: 3, replicationFactor: 3 }, async (cluster) => {
      await withRedis(async ({ redis, keys }) => {
        // Keep the group coordinator on broker 1 and take broker 2 (a partition leader) down.
        cluster.setCoordinator("group", GROUPS.bridge, 1);
        for (const topic of EVENT_TYPES) cluster.setLeader(topic, 0, 2);
        const kafka = testKafka(cluster.brokers);
        const bridge = quietBridge({ kafka, redis, keys }, { sessionTimeoutMs: 6000 });
        const stopBridge = new AbortController();
        const running = bridge.run(stopBridge.signal);
        const stopProducing = new AbortController();
        const producing = produceUntil(kafka, stopProducing.signal, { batch: 150, pauseMs: 20 });
        try {
          await waitFor(
            async () =>
              (await bridge.checks.kafka!()) === true && (await countAll(redis, keys)) > 1000,
            {
              timeoutMs: 30_000,
              what: "the bridge joined and consuming",
            },
          );
          cluster.brokerDown(2);
          await new Promise((r) => setTimeout(r, 3000));
          cluster.brokerUp(2);
          const atUp = await countAll(redis, keys);
          await waitFor(async () => (await countAll(redis, keys)) > atUp + 1000, {
            timeoutMs: 40_000,
            what: "consumption after the broker came back",
          });
          stopProducing.abort();
          const sent = await producing;
          assert.ok(sent > 2000);
          const expected = await kafkaCoordinates(kafka, EVENT_TYPES);
          await waitFor(async () => (await countAll(redis, keys)) >= expected.length, {
            timeoutMs: 40_000,
            what: "every message in Redis",
          });
          await new Promise((r) => setTimeout(r, 500));
          assertExactlyOnce(await readAll(redis, keys), expected);
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

Deno.test(
  "createBridge()'s kafka check fails while Kafka stalls without closing connections, and recovers",
  opts,
  async () => {
    await withKafka({ brokers: 1, partitions: 2 }, async (cluster) => {
      await withRedis(async ({ redis, keys }) => {
        const kafka = testKafka(cluster.brokers);
        // Two session timeouts without an answer fail the check: 12 s here.
        const bridge = quietBridge({ kafka, redis, keys }, { sessionTimeoutMs: 6000 });
        const stop = new AbortController();
        const running = bridge.run(stop.signal);
        try {
          await waitFor(async () => (await bridge.checks.kafka!()) === true, {
            timeoutMs: 30_000,
            what: "the bridge joined",
          });
          // The broker answers nothing for 20 s (its connections stay open). Before: the check
          // said ok throughout, as it did on `up` while the dev Kafka was stopped (SIGSTOP).
          cluster.setRtt(1, 20_000);
          let message = "";
          await waitFor(async () => {
            const result = await bridge.checks.kafka!();
            if (typeof result !== "object" || result.status !== "fail") return false;
            message = String(result.message);
            return true;
          }, { timeoutMs: 19_000, what: "the kafka check failing" });
          assert.match(message, /^no answer from Kafka for \d+ s/);
          cluster.setRtt(1, 0);
          await waitFor(async () => (await bridge.checks.kafka!()) === true, {
            timeoutMs: 60_000,
            what: "the kafka check passing again",
          });
        } finally {
          stop.abort();
          await running;
        }
      });
    });
  },
);
