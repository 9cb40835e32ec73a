/**
 * The detector's reads over many keys on a real Redis Cluster (three
 * masters): the stream watch's newest entry of every partition and the
 * status endpoint's latest score per transaction status. Those keys live in
 * different slots, which one cluster pipeline refuses; both read per slot.
 */
import assert from "node:assert/strict";
import { silentLogger } from "@vigil/tools/testing/log";
import { keySlot } from "@vigil/shared/redis_cluster";
import { TRANSACTION_STATUSES } from "@vigil/shared/schemas/event";
import { withRedisCluster } from "@vigil/tools/testing/redis_cluster";
import { createStatusApp, STATUS_PATH } from "../io/status_api.ts";
import { lastAppend } from "../io/stream_watch.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "stream watch and status endpoint read across the slots of a Redis Cluster",
  opts,
  async () => {
    await withRedisCluster(async ({ redis, keys }) => {
      const partitions = 8;
      const streams = Array.from({ length: partitions }, (_, p) => keys.events("logs", p));
      assert.ok(new Set(streams.map(keySlot)).size > 1, "the partitions span several slots");
      for (let p = 0; p < partitions; p++) {
        await redis.xadd(streams[p]!, `${1_700_000_000_000 + p * 1000}-0`, "data", "{}");
      }
      assert.equal(await lastAppend(redis, keys, "logs", partitions), 1_700_000_007_000);

      const t = Date.UTC(2026, 11, 5, 3, 0);
      for (const [i, status] of TRANSACTION_STATUSES.entries()) {
        await redis.zadd(keys.scores("transactions", status, "count_z"), t, `${t}:${i + 0.5}:${i}`);
      }
      const app = createStatusApp({
        store: { openByEntity: () => Promise.resolve(new Map()) },
        redis,
        keys,
        log: silentLogger(),
      });
      const res = await app.request(STATUS_PATH);
      assert.equal(res.status, 200);
      const body = await res.json() as {
        statuses: Record<string, { last_z: { z: number } | null }>;
      };
      for (const [i, status] of TRANSACTION_STATUSES.entries()) {
        assert.equal(body.statuses[status]?.last_z?.z, i + 0.5, status);
      }
    });
  },
);
