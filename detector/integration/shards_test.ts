/**
 * Several detector instances at once: two shards split the entities without
 * double counting (each anomaly once), and a second instance of the same
 * shard stands by on the lease and takes over when the first stops.
 */
import assert from "node:assert/strict";
import { withRedis } from "@vigil/tools/testing/redis";
import { withPg } from "@vigil/tools/testing/pg";
import { waitFor } from "@vigil/tools/testing/kafka";
import { appendEvents, pendingCount, readAlerts, readRows, startDetector } from "./_harness.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test("two detector shards report every anomaly exactly once between them", opts, async () => {
  await withPg(({ sql }) =>
    withRedis(async ({ redis, keys }) => {
      const a = await startDetector({ sql, keys, redis }, { settings: { shard: 0, shards: 2 } });
      const b = await startDetector({ sql, keys, redis }, { settings: { shard: 1, shards: 2 } });
      try {
        const base = Date.now() - 5 * 60_000;
        const at = (ms: number) => new Date(base + ms).toISOString();
        const logs = [];
        // 40 services with 20 errors each: every window has exactly the threshold,
        // so a window split between instances would never fire.
        for (let i = 0; i < 20; i++) {
          for (let s = 0; s < 40; s++) {
            logs.push({
              timestamp: at(i * 1000 + s),
              service: `svc-${s}`,
              level: "ERROR",
              message: "x",
            });
          }
        }
        const tx = [];
        for (let u = 0; u < 30; u++) {
          for (let i = 0; i < 5; i++) {
            tx.push({
              timestamp: at(u * 10 + i * 1000),
              transaction_id: `t${u}-${i}`,
              user_id: `user-${u}`,
              amount: 10,
              currency: "EUR",
              status: "approved",
            });
          }
        }
        tx.push({
          timestamp: at(60_000),
          transaction_id: "f1",
          user_id: "solo",
          amount: 10,
          currency: "EUR",
          status: "failed",
        });
        await appendEvents(redis, keys, "logs", logs);
        await appendEvents(redis, keys, "transactions", tx);
        const expected = 40 + 30 + 1;
        await waitFor(async () => (await readRows(sql)).length >= expected, {
          what: `${expected} rows`,
        });
        await waitFor(async () =>
          (await pendingCount(redis, keys, "logs", "detector-s0of2")) === 0 &&
          (await pendingCount(redis, keys, "logs", "detector-s1of2")) === 0, {
          what: "both groups acknowledged",
        });
        await new Promise((r) => setTimeout(r, 300));
        const rows = await readRows(sql);
        assert.equal(rows.length, expected);
        const logical = new Set(rows.map((r) => `${r.rule}|${r.entity}|${r.severity}`));
        assert.equal(logical.size, expected);
        assert.ok(logical.has("status_zscore|failed|CRITICAL"));
        assert.equal((await readAlerts(redis, keys)).length, expected);
        // Both instances did part of the work.
        for (const d of [a, b]) {
          assert.match(
            await d.registry.render(),
            /vigil_detector_anomalies_total\{rule="error_spike",severity="CRITICAL"\} \d+/,
          );
        }
      } finally {
        await a.stop();
        await b.stop();
      }
    })
  );
});

Deno.test("a second instance of the same shard stands by and takes over", opts, async () => {
  await withPg(({ sql }) =>
    withRedis(async ({ redis, keys }) => {
      const first = await startDetector({ sql, keys, redis });
      const standby = await startDetector({ sql, keys, redis });
      try {
        const at = (ms: number) => new Date(Date.now() - 60_000 + ms).toISOString();
        const spike = (service: string) =>
          Array.from(
            { length: 10 },
            (_, i) => ({ timestamp: at(i * 100), service, level: "ERROR", message: "x" }),
          );
        // 10 errors now, 10 more after the takeover: one window across both instances.
        await appendEvents(redis, keys, "logs", spike("across"));
        await waitFor(async () => (await pendingCount(redis, keys, "logs")) === 0, {
          what: "first batch acknowledged",
        });
        assert.equal((await readRows(sql)).length, 0);
        await first.stop(); // releases the lease; the standby restores the checkpoint
        await appendEvents(redis, keys, "logs", spike("across"));
        await waitFor(async () => (await readRows(sql)).length === 1, {
          timeoutMs: 20_000,
          what: "standby alert",
        });
        assert.deepEqual((await readRows(sql)).map((r) => [r.rule, r.entity]), [[
          "error_spike",
          "across",
        ]]);
      } finally {
        await first.stop();
        await standby.stop();
      }
    })
  );
});
