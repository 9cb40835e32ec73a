/**
 * The cluster helpers against a real 3-master Redis Cluster
 * (tools/testing/redis_cluster.ts): slots as the cluster computes them,
 * pipelines per slot, SCAN on every master, Pub/Sub across nodes.
 */
import assert from "node:assert/strict";
import { createRedis } from "@vigil/shared/redis";
import { keySlot, pipelineBySlot } from "@vigil/shared/redis_cluster";
import { scanKeys } from "@vigil/tools/testing/redis";
import { withRedisCluster } from "@vigil/tools/testing/redis_cluster";
import { waitFor } from "@vigil/tools/testing/wait";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "a Redis Cluster: slots, per-slot pipelines, SCAN per master and Pub/Sub",
  opts,
  async () => {
    await withRedisCluster(async ({ redis, keys, connection, cluster }) => {
      assert.equal(redis.isCluster, true);
      const names = Array.from({ length: 40 }, (_, i) => keys.scratch("k", String(i)));
      names.push(keys.events("logs", 3), keys.dlq(), keys.alerts(), keys.publishedMarkers());
      for (const key of names.slice(0, 5).concat(names.slice(-4))) {
        assert.equal(keySlot(key), Number(await redis.call("CLUSTER", "KEYSLOT", key)), key);
      }
      // A plain pipeline over keys of different masters is refused; per slot it works.
      const plain = redis.pipeline();
      for (const k of names) plain.set(k, k);
      await assert.rejects(async () => {
        const replies = (await plain.exec()) ?? [];
        for (const [e] of replies) if (e) throw e;
      });
      const replies = await pipelineBySlot(
        redis,
        names.map((k) => ({ key: k, add: (p) => p.set(k, k) })),
      );
      assert.ok(replies.every(([e, r]) => e === null && r === "OK"));
      // Each master holds some of them; scanKeys finds them all.
      const perMaster = await Promise.all(
        cluster.nodes.map(async (n) => {
          const c = createRedis(`redis://${n}`);
          try {
            return Number(await c.dbsize());
          } finally {
            c.disconnect();
          }
        }),
      );
      assert.ok(perMaster.every((n) => n > 0), `keys on every master: ${perMaster}`);
      const found = new Set<string>();
      for await (const batch of scanKeys(redis, `${keys.prefix}*`)) {
        for (const k of batch) found.add(k);
      }
      assert.deepEqual([...found].sort(), [...names].sort());
      // Pub/Sub: a message published on any master reaches a cluster subscriber.
      const sub = createRedis(connection, { blocking: true });
      const got: string[] = [];
      try {
        sub.on("message", (_channel: string, message: string) => got.push(message));
        await sub.subscribe(keys.alertsChannel());
        for (const n of cluster.nodes) {
          const c = createRedis(`redis://${n}`);
          await c.publish(keys.alertsChannel(), n);
          c.disconnect();
        }
        await waitFor(() => got.length === cluster.nodes.length, {
          timeoutMs: 15_000,
          what: "messages",
        });
        assert.deepEqual(got.sort(), [...cluster.nodes].sort());
      } finally {
        sub.disconnect();
      }
    });
  },
);
