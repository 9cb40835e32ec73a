/**
 * With Redis refusing connections every service's `/health` said `redis: timed out after
 * 2000 ms`, as for a Redis that hangs: the PING waited in ioredis' offline queue. The check
 * says at once that the client is not connected, and why.
 */
import assert from "node:assert/strict";
import { createRedis, redisHealth } from "@vigil/shared/redis";
import { silentLogger } from "@vigil/tools/testing/log";
import { runHealthChecks } from "@vigil/shared/http/ops_app";
import { startRedisServer } from "@vigil/tools/testing/redis_server";

Deno.test("redisHealth() names a refused connection at once; a connected Redis is ok, a hung one times out", async () => {
  const server = await startRedisServer();
  const redis = createRedis(server.url, { log: silentLogger(), name: "health", watchMs: 0 });
  const check = (timeoutMs = 2000) =>
    runHealthChecks({ redis: () => redisHealth(redis) }, { timeoutMs });
  try {
    await redis.ping();
    assert.deepEqual(await check(), {
      status: "ok",
      ok: true,
      checks: { redis: "ok" },
      details: {},
    });

    await server.stop();
    for (const until = Date.now() + 5000; redis.status === "ready" && Date.now() < until;) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 300)); // a reconnection attempt was refused
    const started = Date.now();
    const down = await check();
    assert.ok(Date.now() - started < 500, "answered at once, not at the timeout");
    assert.equal(down.checks.redis, "fail");
    assert.match(
      (down.details.redis as { message: string }).message,
      /^not connected \((connecting|reconnecting|connect)\): connect ECONNREFUSED 127\.0\.0\.1:\d+$/,
    );

    await server.start();
    for (const until = Date.now() + 10_000; redis.status !== "ready" && Date.now() < until;) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal((await check()).checks.redis, "ok");
    server.pause(); // connected, and nothing answers
    const hung = await check(300);
    assert.deepEqual(hung.details, { redis: "timed out after 300 ms" });
    server.resume();
  } finally {
    redis.disconnect();
    await server.stop();
  }
});
