/**
 * Chaos (issue 13): the real detector process survives its Redis being
 * stopped for 30 s and frozen (SIGSTOP) for 15 s, longer than its lease
 * TTL, with no other instance around. It keeps running, resumes by itself,
 * and every anomaly is stored and published exactly once.
 *
 * Runs against a private redis-server (append-only file, like production)
 * so the shared test Redis is not disturbed. Part of `deno task chaos`.
 */
import assert from "node:assert/strict";
import { createKeys } from "@vigil/shared/keys";
import { createRedis } from "@vigil/shared/redis";
import { withPg } from "@vigil/tools/testing/pg";
import { startRedisServer } from "@vigil/tools/testing/redis_server";
import { spawnService } from "@vigil/tools/testing/services";
import { waitFor } from "@vigil/tools/testing/wait";
import { appendEvents, pendingCount, readAlerts, readRows } from "./_harness.ts";

Deno.test({
  name:
    "chaos: the detector outlives Redis stopped 30 s and frozen 15 s, then catches up exactly once",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withPg(async ({ sql, url }) => {
      const server = await startRedisServer();
      const redis = createRedis(server.url, {});
      const keys = createKeys("chaos:");
      const detector = await spawnService("detector", {
        REDIS_URL: server.url,
        DATABASE_URL: url,
        VIGIL_PREFIX: "chaos:",
        DETECTOR_PORT: "0",
        DETECTOR_LEASE_TTL: "3s",
        DETECTOR_CHECKPOINT_INTERVAL: "200ms",
      });
      const spike = (service: string, t0: number) =>
        Array.from({ length: 20 }, (_, i) => ({
          timestamp: new Date(t0 + i * 100).toISOString(),
          service,
          level: "ERROR",
          message: "boom",
        }));
      const rowFor = (service: string) =>
        waitFor(async () => (await readRows(sql)).some((r) => r.entity === service), {
          timeoutMs: 60_000,
          what: `the ${service} anomaly\n${detector.tail()}`,
        });
      try {
        const port = await detector.opsPort(60_000);
        const health = async () => {
          const res = await fetch(`http://127.0.0.1:${port}/health`).catch(() => null);
          const body = await res?.json().catch(() => null);
          return { status: res?.status ?? 0, body };
        };
        await appendEvents(redis, keys, "logs", spike("before", Date.now() - 60_000));
        await rowFor("before");

        // 1. Redis stopped for 30 s (10 lease TTLs).
        await server.stop();
        const stopped = Date.now();
        // Within the outage, however long the detector takes to notice it on a busy machine.
        await waitFor(async () => (await health()).status === 503, {
          timeoutMs: 25_000,
          what: "health saying Redis is down",
        });
        await new Promise((r) => setTimeout(r, Math.max(0, stopped + 30_000 - Date.now())));
        await server.start();
        await appendEvents(redis, keys, "logs", spike("after-stop", Date.now() - 50_000));
        await rowFor("after-stop");

        // 2. Redis frozen for 15 s: connections open, nothing answers.
        server.pause();
        await new Promise((r) => setTimeout(r, 15_000));
        server.resume();
        await appendEvents(redis, keys, "logs", spike("after-freeze", Date.now() - 40_000));
        await rowFor("after-freeze");

        await waitFor(async () => (await pendingCount(redis, keys, "logs")) === 0, {
          what: "everything acknowledged",
        });
        await waitFor(async () => (await readAlerts(redis, keys)).length >= 3, {
          what: "three alerts",
        });
        const rows = await readRows(sql);
        assert.deepEqual(rows.map((r) => r.entity).sort(), [
          "after-freeze",
          "after-stop",
          "before",
        ]);
        const alerts = await readAlerts(redis, keys);
        assert.deepEqual(
          alerts.filter((a) => a.status === "firing").map((a) => a.entity).sort(),
          ["after-freeze", "after-stop", "before"],
          "each published once",
        );
        await waitFor(async () => (await health()).status === 200, {
          what: "healthy again",
          timeoutMs: 20_000,
        });
        assert.ok(
          !detector.lines().some((l) => /lost the lease/.test(String(l.msg))),
          "never gave up its lease: nobody else took it",
        );
        const exited = await Promise.race([
          detector.status.then(() => true),
          new Promise((r) => setTimeout(() => r(false), 100)),
        ]);
        assert.equal(exited, false, "still running");
      } finally {
        await detector.stop();
        redis.disconnect();
        await server.close();
        await sql.end({ timeout: 1 }).catch(() => {});
      }
    }),
});
