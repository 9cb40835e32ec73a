/**
 * A Redis that may evict any key (`maxmemory-policy allkeys-lru`, a common
 * cache setting) would drop streams and offsets under memory pressure: the
 * first client of a service says so once, naming the setting to change.
 */
import assert from "node:assert/strict";
import { createRedis } from "@vigil/shared/redis";
import { startRedisServer } from "@vigil/tools/testing/redis_server";
import { spawnEval } from "@vigil/tools/testing/eval_process";

Deno.test("createRedis() warns once when Redis may evict any key (allkeys-*)", async () => {
  const server = await startRedisServer();
  try {
    const admin = createRedis(server.url);
    await admin.config("SET", "maxmemory-policy", "allkeys-lru");
    admin.disconnect();
    const code = `
      import { createRedis } from "${new URL("../redis.ts", import.meta.url).href}";
      import { createLogger } from "${new URL("../log.ts", import.meta.url).href}";
      const log = createLogger({ service: "test" });
      const a = createRedis("${server.url}", { log, name: "a" });
      const b = createRedis("${server.url}", { log, name: "b" });
      await a.ping();
      await b.ping();
      await new Promise((r) => setTimeout(r, 500));
      a.disconnect();
      b.disconnect();
    `;
    const child = spawnEval(code);
    const [out, status] = await Promise.all([child.readAll(), child.child.status]);
    await child.cancel();
    assert.equal(status.code, 0, out);
    const warnings = out.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l))
      .filter((l) => l.level === "warn");
    assert.equal(warnings.length, 1, out);
    assert.match(warnings[0].msg, /maxmemory-policy allkeys-lru.*set maxmemory-policy noeviction/);
  } finally {
    await server.close();
  }
});
