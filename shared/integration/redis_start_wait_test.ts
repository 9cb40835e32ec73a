/**
 * Start-up while Redis is unreachable: the bridge and the detector check the
 * partition count (`ensurePartitionsOrExit`) before anything else in Redis.
 * Redis down for longer than ioredis' retries of one command (about 30 s)
 * stopped them with exit 2, as for a bad setting, saying only "Reached the max
 * retries per request limit"; they wait for Redis instead, as for Kafka and
 * PostgreSQL. A TCP proxy in front of the test Redis stands in for the outage.
 */
import assert from "node:assert/strict";
import { spawnEval } from "@vigil/tools/testing/eval_process";
import { withRedis } from "@vigil/tools/testing/redis";
import { startUrlProxy } from "@vigil/tools/testing/tcp_proxy";

/** A process checking the partition count as a service's start does, then printing "went on". */
function partitionsCheck(redisUrl: string, metaKey: string, partitions: number): string {
  const at = (file: string) => new URL(`../${file}`, import.meta.url).href;
  return `
    import { createRedis } from "${at("redis.ts")}";
    import { createLogger } from "${at("log.ts")}";
    import { createLifecycle } from "${at("lifecycle.ts")}";
    import { ensurePartitionsOrExit } from "${at("service.ts")}";
    const log = createLogger({ service: "test" });
    const redis = createRedis(${JSON.stringify(redisUrl)}, { log, name: "test" });
    const lifecycle = createLifecycle({ log });
    await ensurePartitionsOrExit({ name: "test", log, lifecycle }, redis, {
      metaKey: ${JSON.stringify(metaKey)},
      partitions: ${partitions},
    });
    console.log(JSON.stringify({ msg: "went on" }));
    Deno.exit(0);
  `;
}

Deno.test({
  name: "ensurePartitionsOrExit() waits for a Redis down longer than a command's retries",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withRedis(async ({ redis, keys, url }) => {
      const proxy = startUrlProxy(url);
      proxy.cut();
      try {
        const child = spawnEval(partitionsCheck(proxy.url, keys.meta(), 1));
        // Its first check has spent its retries: until then ioredis queues the command.
        await child.readUntil("cannot reach Redis, retrying");
        proxy.restore();
        const out = await child.readUntil("went on");
        const status = await child.child.status;
        await child.cancel();
        assert.equal(status.code, 0, out);
        const lines = out.trim().split("\n").map((l) => JSON.parse(l));
        const retrying = lines.find((l) => l.msg === "cannot reach Redis, retrying");
        assert.ok(retrying, out);
        assert.equal(retrying.level, "warn");
        assert.match(retrying.hint, /REDIS_URL/);
        assert.equal(lines.at(-1).msg, "went on", out);
        assert.equal(await redis.hget(keys.meta(), "partitions"), "1");
      } finally {
        await proxy.close();
      }
    }),
});

Deno.test({
  name: "ensurePartitionsOrExit() stops with exit 2 on another partition count, at once",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withRedis(async ({ redis, keys, url }) => {
      await redis.hset(keys.meta(), "partitions", "4");
      const child = spawnEval(partitionsCheck(url, keys.meta(), 2));
      const [out, status] = await Promise.all([child.readAll(), child.child.status]);
      await child.cancel();
      assert.equal(status.code, 2, out);
      const lines = out.trim().split("\n").map((l) => JSON.parse(l));
      assert.equal(lines.length, 1, out);
      assert.equal(lines[0].msg, "cannot start test");
      assert.match(
        JSON.stringify(lines[0].error),
        /VIGIL_PARTITIONS is 2 but the streams in this Redis were written with 4 partitions/,
      );
    }),
});
