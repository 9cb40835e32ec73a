/**
 * kill -9 mid-stream and restart: no anomaly lost, none duplicated, windows
 * continue across the restart (a service with 19 errors before the kill and
 * one after it alerts).
 */
import assert from "node:assert/strict";
import { withRedis, type WithRedisTarget } from "@vigil/tools/testing/redis";
import { withRedisCluster } from "@vigil/tools/testing/redis_cluster";
import { withPg } from "@vigil/tools/testing/pg";
import { waitFor } from "@vigil/tools/testing/kafka";
import { appendEvents, pendingCount, readAlerts, readRows } from "./_harness.ts";
import { spawnService } from "@vigil/tools/testing/services";

/** Kill the detector (a real process) mid-batch on `withTarget`'s Redis and check the result. */
async function killAndRestart(withTarget: WithRedisTarget): Promise<void> {
  {
    await withPg(({ sql, url }) =>
      withTarget(async ({ redis, keys, prefix, env: redisEnv }) => {
        const base = Date.now() - 10 * 60_000;
        const at = (ms: number) => new Date(base + ms).toISOString();
        // Phase 1: 60 services x 22 ERROR logs (one error_spike each), noise from
        // 3000 users (no user_spike), and 19 errors of "span" (no alert yet).
        const logs: Record<string, unknown>[] = [];
        for (let i = 0; i < 22; i++) {
          for (let s = 0; s < 60; s++) {
            logs.push({
              timestamp: at(i * 2000 + s),
              service: `svc-${s}`,
              level: "ERROR",
              message: "boom",
            });
          }
          for (let u = 0; u < 150; u++) {
            logs.push({
              timestamp: at(i * 2000 + u),
              service: "web",
              level: "INFO",
              message: "hi",
              user_id: `user-${i}-${u}`,
            });
          }
        }
        for (let i = 0; i < 19; i++) {
          logs.push({
            timestamp: at(50_000 + i * 1000),
            service: "span",
            level: "ERROR",
            message: "boom",
          });
        }
        const tx: Record<string, unknown>[] = [];
        for (let u = 0; u < 50; u++) {
          for (let i = 0; i < 6; i++) {
            tx.push({
              timestamp: at(u * 100 + i * 10_000),
              transaction_id: `t-${u}-${i}`,
              user_id: `buyer-${u}`,
              amount: 20,
              currency: "EUR",
              status: "approved",
            });
          }
        }
        for (let i = 0; i < 1000; i += 500) {
          await appendEvents(redis, keys, "transactions", tx.slice(i, i + 500));
        }
        for (let i = 0; i < logs.length; i += 1000) {
          await appendEvents(redis, keys, "logs", logs.slice(i, i + 1000));
        }

        const env = {
          ...redisEnv,
          DATABASE_URL: url,
          VIGIL_PREFIX: prefix,
          DETECTOR_PORT: "0",
          DETECTOR_BATCH: "40",
          DETECTOR_CLAIM_IDLE: "1s",
          DETECTOR_LEASE_TTL: "1s",
          DETECTOR_CHECKPOINT_INTERVAL: "100ms",
          LOG_LEVEL: "info",
        };
        const first = await spawnService("detector", env);
        let second: Awaited<ReturnType<typeof spawnService>> | undefined;
        try {
          await waitFor(async () => (await readRows(sql).catch(() => [])).length >= 5, {
            timeoutMs: 45_000,
            intervalMs: 20,
            what: "first anomalies",
          });
          await first.kill("SIGKILL");
          const before = await readRows(sql);
          const pendingAtKill = await pendingCount(redis, keys, "logs");
          assert.ok(before.length < 111, `killed before the end (${before.length} rows)`);

          second = await spawnService("detector", env);
          // Phase 2: the 20th error of "span", after the restart.
          await appendEvents(redis, keys, "logs", [
            { timestamp: at(70_000), service: "span", level: "ERROR", message: "boom" },
          ]);
          const expected = 60 + 50 + 1;
          await waitFor(async () => (await readRows(sql)).length >= expected, {
            timeoutMs: 40_000,
            what: `${expected} rows (pending at kill: ${pendingAtKill})`,
          }).catch((e) => {
            throw new Error(`${e.message}\n${second?.tail()}`);
          });
          await waitFor(async () =>
            (await pendingCount(redis, keys, "logs")) === 0 &&
            (await pendingCount(redis, keys, "transactions")) === 0 &&
            (await readAlerts(redis, keys)).length >= expected, {
            timeoutMs: 20_000,
            what: "all acknowledged and published",
          });
          // Give a duplicate the chance to show up.
          await new Promise((r) => setTimeout(r, 500));
          const rows = await readRows(sql);
          const keysOf = rows.map((r) => `${r.rule}|${r.entity}|${r.severity}`);
          assert.equal(new Set(keysOf).size, keysOf.length, "no logical duplicate");
          assert.equal(rows.length, expected);
          assert.equal(rows.filter((r) => r.rule === "error_spike").length, 61);
          assert.ok(
            rows.some((r) => r.rule === "error_spike" && r.entity === "span"),
            "window continued",
          );
          assert.equal(rows.filter((r) => r.rule === "user_frequency").length, 50);
          const alerts = await readAlerts(redis, keys);
          const firing = alerts.filter((a) => a.status === "firing").map((a) => a.id);
          assert.equal(firing.length, expected, "each anomaly exactly once in the alerts stream");
          assert.equal(new Set(firing).size, expected);
          assert.deepEqual(new Set(firing), new Set(rows.map((r) => r.id)));
        } finally {
          await first.kill("SIGKILL");
          if (second) await second.kill("SIGTERM");
        }
      })
    );
  }
}

Deno.test(
  "detector killed with SIGKILL mid-batch loses and duplicates no anomaly and keeps its windows",
  { sanitizeOps: false, sanitizeResources: false },
  () => killAndRestart(withRedis),
);

Deno.test(
  "on a Redis Cluster, the detector killed with SIGKILL mid-batch loses and duplicates no anomaly",
  { sanitizeOps: false, sanitizeResources: false },
  () => killAndRestart(withRedisCluster),
);
