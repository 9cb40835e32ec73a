/**
 * A hung Redis (SIGSTOP: connections stay open, nothing answers) made every
 * service wait in silence: on `up`, 40 s of it left no log line at all. A
 * client created with `watchMs` says so while it lasts, and when it ends.
 */
import assert from "node:assert/strict";
import { createRedis } from "@vigil/shared/redis";
import { createLogger } from "@vigil/shared/log";
import { startRedisServer } from "@vigil/tools/testing/redis_server";

Deno.test("createRedis() with watchMs logs while a connected Redis does not answer, and when it answers again", async () => {
  const server = await startRedisServer();
  const lines: { level: string; msg: string; client?: string }[] = [];
  const log = createLogger({ service: "test", write: (line) => lines.push(JSON.parse(line)) });
  const redis = createRedis(server.url, { log, name: "watched", watchMs: 1000 });
  try {
    await redis.ping();
    await new Promise((r) => setTimeout(r, 1200));
    assert.deepEqual(lines.filter((l) => l.level !== "info" || l.msg.startsWith("Redis")), []);
    server.pause();
    await new Promise((r) => setTimeout(r, 3200));
    const warnings = lines.filter((l) => l.level === "warn");
    assert.ok(warnings.length >= 2 && warnings.length <= 3, JSON.stringify(lines));
    for (const w of warnings) {
      assert.match(w.msg, /^Redis has not answered for [1-3] s \(connected, no reply\)$/);
      assert.equal(w.client, "watched");
    }
    server.resume();
    await new Promise((r) => setTimeout(r, 300));
    assert.match(lines.at(-1)!.msg, /^Redis answers again after [2-4] s$/);
    assert.equal(await redis.ping(), "PONG");
  } finally {
    server.resume();
    await redis.quit();
    await server.close();
  }
});
