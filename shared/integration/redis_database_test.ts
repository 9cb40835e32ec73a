/**
 * A REDIS_URL naming a database the server does not have: ioredis logs the
 * failed SELECT and goes on with database 0, so every key would land in
 * another database than asked. The service stops instead, saying what to fix.
 */
import assert from "node:assert/strict";
import { spawnEval } from "@vigil/tools/testing/eval_process";

/** Run `code` in a child; it must exit 2: its output and JSON lines. */
async function exitsWith2(code: string) {
  const child = spawnEval(code);
  const [out, status] = await Promise.all([child.readAll(), child.child.status]);
  await child.cancel();
  assert.equal(status.code, 2, out);
  return { out, lines: out.trim().split("\n").map((l) => JSON.parse(l)) };
}

Deno.test("createRedis() stops the process when REDIS_URL's database does not exist (not database 0)", async () => {
  const code = `
    import { createRedis } from "${new URL("../redis.ts", import.meta.url).href}";
    import { createLogger } from "${new URL("../log.ts", import.meta.url).href}";
    const redis = createRedis("redis://127.0.0.1:6379/99", {
      log: createLogger({ service: "test" }),
      name: "test",
    });
    await redis.set("vigil-test:redis-database", "1", "EX", 5);
    console.log(JSON.stringify({ msg: "wrote to database 0" }));
    Deno.exit(0);
  `;
  const { out, lines } = await exitsWith2(code);
  assert.equal(lines.length, 1, out);
  assert.equal(lines[0].level, "error");
  assert.match(lines[0].msg, /^REDIS_URL selects a database this Redis does not have/);
  assert.equal(lines[0].error, "ERR DB index is out of range");
});

Deno.test("createRedis() stops the process when Redis refuses REDIS_URL's user or password, naming REDIS_URL", async () => {
  // The bridge stopped with exit 2 and the web with exit 1, both with "WRONGPASS invalid
  // username-password pair" alone: neither said which setting to fix.
  const code = `
    import { createRedis } from "${new URL("../redis.ts", import.meta.url).href}";
    import { createLogger } from "${new URL("../log.ts", import.meta.url).href}";
    const redis = createRedis("redis://vigil-no-such-user:wrong@127.0.0.1:6379", {
      log: createLogger({ service: "test" }),
      name: "test",
    });
    await redis.ping().catch(() => {});
    console.log(JSON.stringify({ msg: "went on" }));
    Deno.exit(0);
  `;
  const { out, lines } = await exitsWith2(code);
  assert.equal(lines.length, 1, out);
  assert.equal(lines[0].level, "error");
  assert.match(
    lines[0].msg,
    /^Redis refused the user or password of REDIS_URL: fix them in REDIS_URL \(redis:\/\/user:password@host:port\)/,
  );
  assert.match(lines[0].error, /^WRONGPASS/);
  assert.doesNotMatch(out, /wrong@/);
});
