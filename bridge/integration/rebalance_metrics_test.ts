/**
 * A bridge that loses partitions to another one in a rebalance stops
 * exporting their `vigil_bridge_consumer_lag`: their new owner exports it,
 * and the dashboard's `sum by (topic)` would otherwise count both, the lost
 * copy frozen at its last value.
 */
import assert from "node:assert/strict";
import { type Kafka, Kafka as KafkaClient, logLevel } from "kafkajs";
import { waitFor } from "@vigil/tools/testing/kafka";
import { silentLogger } from "@vigil/tools/testing/log";
import { Registry } from "@vigil/shared/metrics";
import type { Redis } from "@vigil/shared/redis";
import type { Keys } from "@vigil/shared/keys";
import { createBridge } from "../bridge.ts";
import { produce, validMessages, withKafkaAndRedis } from "@vigil/tools/testing/bridge";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** A bridge of group `groupId` whose latest assignment is kept in `owned` (`topic:partition`). */
function bridgeOf(ctx: { kafka: Kafka; redis: Redis; keys: Keys }, groupId: string) {
  const owned = new Set<string>();
  const metrics = new Registry();
  const bridge = createBridge({
    kafka: {
      consumer: (config) => {
        const c = ctx.kafka.consumer(config);
        c.on(c.events.GROUP_JOIN, (e) => {
          owned.clear();
          for (const [topic, ps] of Object.entries(e.payload.memberAssignment)) {
            for (const p of ps) owned.add(`${topic}:${p}`);
          }
        });
        return c;
      },
      admin: (config) => ctx.kafka.admin(config),
    },
    redis: ctx.redis,
    keys: ctx.keys,
    log: silentLogger(),
    metrics,
    config: { groupId, sessionTimeoutMs: 6000 },
  });
  const lagged = async () =>
    (await metrics.render()).split("\n")
      .filter((l) => l.startsWith("vigil_bridge_consumer_lag{"))
      .map((l) => {
        const topic = /topic="([^"]+)"/.exec(l)![1];
        const partition = /partition="([^"]+)"/.exec(l)![1];
        return `${topic}:${partition}`;
      });
  return { bridge, owned, lagged };
}

Deno.test(
  "createBridge() stops exporting the consumer lag of the partitions a rebalance took from it",
  opts,
  async () => {
    await withKafkaAndRedis({ brokers: 1, partitions: 4 }, async (ctx) => {
      const groupId = `lag-${crypto.randomUUID().slice(0, 8)}`;
      await produce(ctx.kafka, validMessages(3000));
      const a = bridgeOf(ctx, groupId);
      const b = bridgeOf(ctx, groupId);
      const stopA = new AbortController();
      const stopB = new AbortController();
      const runA = a.bridge.run(stopA.signal);
      let runB: Promise<void> | undefined;
      try {
        // A alone: every partition's lag is A's.
        await waitFor(async () => (await a.lagged()).length === 12, {
          timeoutMs: 30_000,
          what: "bridge A's lag for all 12 partitions",
        });
        runB = b.bridge.run(stopB.signal);
        await waitFor(() => b.owned.size > 0 && a.owned.size + b.owned.size === 12, {
          timeoutMs: 60_000,
          what: "the partitions shared by both bridges",
        });
        await new Promise((r) => setTimeout(r, 200));
        const stale = (await a.lagged()).filter((tp) => !a.owned.has(tp));
        assert.deepEqual(stale, [], "bridge A exports the lag of partitions B owns");
      } finally {
        stopA.abort();
        stopB.abort();
        await runA;
        await runB;
      }
    });
  },
);

Deno.test(
  "createBridge() stops exporting the consumer lag while its consumer has crashed (Kafka down)",
  opts,
  async () => {
    await withKafkaAndRedis({ brokers: 1, partitions: 2 }, async (ctx) => {
      await produce(ctx.kafka, validMessages(600));
      // kafkajs gives up on its requests after a few retries: the consumer crashes soon.
      const kafka = new KafkaClient({
        brokers: ctx.cluster.brokers,
        clientId: "bridge-test",
        logLevel: logLevel.NOTHING,
        retry: { initialRetryTime: 100, retries: 2, maxRetryTime: 300 },
      });
      const a = bridgeOf({ ...ctx, kafka }, `lag-${crypto.randomUUID().slice(0, 8)}`);
      const stop = new AbortController();
      const run = a.bridge.run(stop.signal);
      try {
        await waitFor(async () => (await a.lagged()).length === 6, {
          timeoutMs: 30_000,
          what: "the lag of all 6 partitions",
        });
        ctx.cluster.brokerDown(1);
        // Before: the last values stayed until the bridge joined the group again.
        await waitFor(async () => (await a.lagged()).length === 0, {
          timeoutMs: 60_000,
          what: "no lag exported while the consumer is down",
        });
        await waitFor(async () => (await a.bridge.checks.kafka!()) !== true, {
          timeoutMs: 60_000,
          what: "the kafka check failing",
        });
        assert.deepEqual(await a.lagged(), [], "a lag exported while Kafka is down");
        ctx.cluster.brokerUp(1);
        await produce(ctx.kafka, validMessages(60, 2));
        await waitFor(async () => (await a.lagged()).length > 0, {
          timeoutMs: 90_000,
          what: "the lag exported again once consuming",
        });
      } finally {
        stop.abort();
        await run;
      }
    });
  },
);
