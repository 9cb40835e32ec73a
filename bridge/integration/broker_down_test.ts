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

type Cluster = Parameters<Parameters<typeof withKafka>[1]>[0];

/**
 * The bridge consuming while a producer sends; `fault` runs once it has streamed 1,000 events;
 * consumption must then go on (within `resumeMs`) and every Kafka offset reach Redis exactly once.
 */
async function faultWhileFlowing(
  partitions: number,
  fault: (cluster: Cluster) => Promise<void>,
  resumeMs: number,
): Promise<void> {
  await withKafka({ brokers: 3, partitions, replicationFactor: 3 }, async (cluster) => {
    await withRedis(async ({ redis, keys }) => {
      // Keep the group coordinator on broker 1 (the faults below take others down).
      cluster.setCoordinator("group", GROUPS.bridge, 1);
      for (const topic of EVENT_TYPES) cluster.setLeader(topic, 0, 2);
      const kafka = testKafka(cluster.brokers);
      const bridge = quietBridge({ kafka, redis, keys }, { sessionTimeoutMs: 6000 });
      const stopBridge = new AbortController();
      const running = bridge.run(stopBridge.signal);
      const stopProducing = new AbortController();
      // ~1,700 messages a second here (5,200 with 150 every 20 ms): consumption pauses for 30 s
      // and more under a loaded CI, and the dev Kafka deletes a partition's oldest messages past
      // ~5 MB (~17,000 of these), read or not; an unread one deleted would be reported missing.
      const producing = produceUntil(kafka, stopProducing.signal, { batch: 100, pauseMs: 50 });
      try {
        await waitFor(
          async () =>
            (await bridge.checks.kafka!()) === true && (await countAll(redis, keys)) > 1000,
          { timeoutMs: 30_000, what: "the bridge joined and consuming" },
        );
        await fault(cluster);
        const atFault = await countAll(redis, keys);
        await waitFor(async () => (await countAll(redis, keys)) > atFault + 1000, {
          timeoutMs: resumeMs,
          what: "consumption after the fault",
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
}

Deno.test(
  "createBridge() loses no message while a broker goes down and comes back",
  opts,
  () =>
    faultWhileFlowing(3, async (cluster) => {
      cluster.brokerDown(2); // the leader of every topic's partition 0
      await new Promise((r) => setTimeout(r, 3000));
      cluster.brokerUp(2);
    }, 40_000),
);

Deno.test(
  "createBridge() keeps consuming when every partition's leader moves to another broker",
  opts,
  // kafkajs answers "not the leader" by refreshing its metadata and joining the group again:
  // consumption pauses (on the dev Kafka, whose JoinGroup answers after seconds, 10-40 s seen
  // alone; more under a loaded CI), then resumes.
  () =>
    faultWhileFlowing(6, (cluster) => {
      for (const topic of EVENT_TYPES) {
        for (let p = 0; p < 6; p++) cluster.setLeader(topic, p, ((p + 2) % 3) + 1); // partition 0: from 2 to 3
      }
      return Promise.resolve();
    }, 120_000),
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
