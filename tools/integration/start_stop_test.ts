/**
 * A service stopped (Ctrl-C, SIGTERM) while a start step still waits for a dependency (PostgreSQL
 * not up yet) runs its cleanups, logs "stopped" and exits 0, as a stop after its start does: it
 * logged "shutting down" and exited 1 at once, as for a failed start. The same while it waits for
 * Redis (bridge, detector), at once: the bridge took 10 s and was forced to exit 1.
 */
import assert from "node:assert/strict";
import { spawnService } from "@vigil/tools/testing/services";
import { closedPort, stablePort } from "@vigil/tools/testing/ports";

Deno.test("a service stopped while its start waits for PostgreSQL stops cleanly: 'stopped', exit 0", async () => {
  const pgPort = closedPort();
  await Promise.all(
    [
      ["detector", { DETECTOR_PORT: String(stablePort()) }],
      ["notifier", { NOTIFIER_PORT: String(stablePort()) }],
    ].map(async ([task, env]) => {
      const service = await spawnService(task as string, {
        ...env as Record<string, string>,
        VIGIL_PREFIX: `start-stop-${task}:`,
        DATABASE_URL: `postgres://root@127.0.0.1:${pgPort}/none`,
      });
      try {
        await service.waitForLine((l) => /retrying/.test(String(l.msg)), "a retried start step");
        const status = await service.kill("SIGINT");
        const lines = service.lines().map((l) => String(l.msg));
        assert.equal(status?.code, 0, `${task}: ${service.tail(10)}`);
        assert.ok(lines.includes("stopped"), `${task}: ${service.tail(10)}`);
        assert.ok(!lines.some((m) => m.startsWith("cannot start")), service.tail(10));
      } finally {
        await service.stop();
      }
    }),
  );
});

Deno.test("a service stopped while its start waits for Redis stops at once: 'stopped', exit 0", async () => {
  // The bridge's shutdown ran redis.quit(), which a client not connected queues until Redis
  // answers: every such stop took 10 s and ended in "shutdown took too long, forcing exit" (1).
  const redisPort = closedPort();
  await Promise.all(
    [
      ["bridge", { BRIDGE_PORT: String(stablePort()), KAFKA_BROKERS: "127.0.0.1:1" }],
      ["detector", { DETECTOR_PORT: String(stablePort()) }],
    ].map(async ([task, env]) => {
      const service = await spawnService(task as string, {
        ...env as Record<string, string>,
        VIGIL_PREFIX: `start-stop-${task}:`,
        REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      });
      try {
        await service.waitForLine((l) => l.msg === "redis error", "Redis out of reach");
        const started = Date.now();
        const status = await service.kill("SIGINT");
        const took = Date.now() - started;
        const lines = service.lines().map((l) => String(l.msg));
        assert.equal(status?.code, 0, `${task}: ${service.tail(10)}`);
        assert.ok(lines.includes("stopped"), `${task}: ${service.tail(10)}`);
        assert.ok(!lines.some((m) => /forcing exit|^cannot start/.test(m)), service.tail(10));
        assert.ok(took < 8000, `${task} stopped after ${took} ms: ${service.tail(10)}`);
      } finally {
        await service.stop();
      }
    }),
  );
});
