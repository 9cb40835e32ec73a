/** The lean RESP reader against the real Redis, compared with ioredis. */
import assert from "node:assert/strict";
import { TEST_REDIS_URL, withRedis } from "@vigil/tools/testing/redis";
import { createRedis } from "@vigil/shared/redis";
import { createRespConnection } from "../io/resp_reader.ts";
import { createRedisStreamPort } from "@vigil/shared/stream_port";
import { withFastReads } from "../io/fast_reads.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function connect(url: string) {
  const u = new URL(url);
  return createRespConnection({ host: u.hostname, port: Number(u.port || 6379) });
}

Deno.test(
  "RESP reader: replies of every type, pipelined, in order",
  opts,
  () =>
    withRedis(async ({ redis, keys, url }) => {
      const c = connect(url);
      try {
        const key = keys.key("resp", "h");
        const [pong, set, n, missing, big] = await Promise.all([
          c.command(["PING"]),
          c.command(["SET", key, "héllo ✓"]),
          c.command(["INCR", keys.key("resp", "n")]),
          c.command(["GET", keys.key("resp", "missing")]),
          c.command(["ECHO", "x".repeat(300_000)]),
        ]);
        assert.deepEqual([pong, set, n, missing], ["PONG", "OK", 1, null]);
        assert.equal(big, "x".repeat(300_000), "a reply larger than the read buffer");
        assert.equal(await c.command(["GET", key]), "héllo ✓", "non-ASCII decoded");
        await assert.rejects(c.command(["INCR", key]), /not an integer/);
        assert.equal(await c.command(["PING"]), "PONG", "usable after an error reply");
        assert.equal(await redis.get(key), "héllo ✓");
      } finally {
        c.close();
      }
    }),
);

Deno.test(
  "RESP reader: reconnects after the server drops the connection",
  opts,
  () =>
    withRedis(async ({ redis, url }) => {
      const c = connect(url);
      try {
        await c.command(["CLIENT", "SETNAME", "resp-test"]);
        const list = await redis.client("LIST") as string;
        const id = /id=(\d+) [^\n]*name=resp-test/.exec(list)?.[1];
        assert.ok(id);
        await redis.client("KILL", "ID", id);
        // Either the drop is noticed first (a fresh connection answers) or the
        // command in flight fails; the next one is answered either way.
        const first = await c.command(["PING"]).catch(() => "rejected");
        assert.ok(first === "PONG" || first === "rejected");
        assert.equal(await c.command(["PING"]), "PONG");
      } finally {
        c.close();
      }
    }),
);

Deno.test(
  "withFastReads(): XREADGROUP through the reader returns what ioredis returns",
  opts,
  () =>
    withRedis(async ({ redis, keys }) => {
      const stream = keys.events("logs");
      for (const data of ['{"a":"ascii"}', '{"a":"ünïcødé ✓"}', "x".repeat(70_000)]) {
        await redis.xadd(stream, "*", "data", data, "topic", "logs", "ingest_ts", "1");
      }
      const deleted = await redis.xadd(stream, "*", "data", "gone");
      await redis.xgroup("CREATE", stream, "fast", "0");
      await redis.xgroup("CREATE", stream, "slow", "0");
      const own = createRedis(TEST_REDIS_URL);
      const port = (r: typeof redis) =>
        createRedisStreamPort({ redis: r, dlq: keys.dlq(), source: "detector" });
      const fast = withFastReads(port(own), own);
      const slow = port(redis);
      const a = await fast.readGroup(stream, "fast", "c", { id: ">", count: 10 });
      const b = await slow.readGroup(stream, "slow", "c", { id: ">", count: 10 });
      assert.equal(a.length, 4);
      assert.deepEqual(a, b);
      // A pending entry deleted from the stream reads back with null fields.
      await redis.xdel(stream, deleted!);
      const pendingFast = await fast.readGroup(stream, "fast", "c", { id: "0", count: 10 });
      const pendingSlow = await slow.readGroup(stream, "slow", "c", { id: "0", count: 10 });
      assert.deepEqual(pendingFast, pendingSlow);
      assert.equal(pendingFast.find((e) => e.id === deleted)?.fields, null);
      // BLOCK on an empty stream: nothing after the timeout.
      assert.deepEqual(
        await fast.readGroup(stream, "fast", "c", { id: ">", count: 5, blockMs: 50 }),
        [],
      );
      own.disconnect(); // the reader closes with its ioredis client
      await new Promise((r) => setTimeout(r, 20));
      await assert.rejects(fast.readGroup(stream, "fast", "c", { id: ">", count: 1 }), /closed/);
    }),
);
