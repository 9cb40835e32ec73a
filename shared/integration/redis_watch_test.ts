/**
 * A hung Redis (SIGSTOP: connections stay open, nothing answers) made every
 * service wait in silence: on `up`, 40 s of it left no log line at all. A
 * client created with `watchMs` says so while it lasts, and when it ends.
 */
import assert from "node:assert/strict";
import { createRedis } from "@vigil/shared/redis";
import { createLogger } from "@vigil/shared/log";
import { startRedisServer } from "@vigil/tools/testing/redis_server";
import { waitFor } from "@vigil/tools/testing/wait";

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
    const pausedAt = Date.now();
    await new Promise((r) => setTimeout(r, 3200));
    // A busy machine holds timers back: the second warning may come later than 2.5 s.
    const warned = () => lines.filter((l) => l.level === "warn");
    await waitFor(() => warned().length >= 2, { timeoutMs: 10_000, what: "two warnings" });
    const warnings = warned();
    // One warning a second at most, each saying for how long (late ones say more).
    const paused = Date.now() - pausedAt + 100; // (a PING sent just before the pause)
    assert.ok(warnings.length >= 2 && warnings.length <= paused / 1000, JSON.stringify(lines));
    let last = 0;
    for (const w of warnings) {
      const m = w.msg.match(/^Redis has not answered for (\d+) s \(connected, no reply\)$/);
      assert.ok(
        m && Number(m[1]) > last && Number(m[1]) <= Math.ceil(paused / 1000),
        JSON.stringify(lines),
      );
      last = Number(m[1]);
      assert.equal(w.client, "watched");
    }
    server.resume();
    const answered = /^Redis answers again after (\d+) s$/;
    await waitFor(() => answered.test(lines.at(-1)!.msg), {
      timeoutMs: 10_000,
      what: "the line saying Redis answers again",
    });
    const after = Number(lines.at(-1)!.msg.match(answered)![1]);
    assert.ok(
      after >= last && after <= Math.ceil((Date.now() - pausedAt + 100) / 1000),
      lines.at(-1)!.msg,
    );
    assert.equal(await redis.ping(), "PONG");
  } finally {
    server.resume();
    await redis.quit();
    await server.close();
  }
});
