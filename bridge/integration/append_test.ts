import assert from "node:assert/strict";
import { withRedis } from "@vigil/tools/testing/redis";
import { type BatchItem, buildAppendCalls, createAppender, ioredisAppendPort } from "../append.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const item = (offset: number): BatchItem => ({
  offset: String(offset),
  classified: offset % 4 === 0
    ? {
      kind: "dead",
      reasonKind: "invalid_json",
      reason: "invalid_json: x",
      raw: "{",
      encoding: "utf8",
    }
    : {
      kind: "event",
      type: "logs",
      data: `{"n":${offset}}`,
      key: "k",
      traceparent: offset % 2 ? "00-tp" : "",
    },
});

Deno.test(
  "bridge_append-5.lua appends once, skips redelivered offsets and refuses gaps",
  opts,
  async () => {
    await withRedis(async ({ redis, keys }) => {
      const appender = createAppender(ioredisAppendPort(redis));
      const items = Array.from({ length: 25 }, (_, i) => item(1_000_000_000_000_000 + i));
      const build = (list: BatchItem[]) =>
        buildAppendCalls({ topic: "logs", partition: 0, items: list }, {
          keys,
          maxlen: 1000,
          ingestTs: 5,
          chunkSize: 7,
        });
      assert.deepEqual(await appender.append(build(items.slice(0, 10))), {
        appended: 10,
        skipped: 0,
      });
      // A redelivered, larger batch: the first 10 are skipped.
      assert.deepEqual(await appender.append(build(items)), { appended: 15, skipped: 10 });
      assert.deepEqual(await appender.append(build(items)), { appended: 0, skipped: 25 });
      assert.equal(await redis.hget(keys.bridgeOffsets(), "logs:0"), "1000000000000024");
      const logs = await redis.xrange(keys.events("logs"), "-", "+");
      const dlq = await redis.xrange(keys.dlq(), "-", "+");
      assert.equal(logs.length + dlq.length, 25);
      assert.equal(dlq.length, 7);
      const fields = Object.fromEntries(
        logs[0]![1].reduce<string[][]>(
          (a, v, i) => (i % 2 ? a[a.length - 1]!.push(v) : a.push([v]), a),
          [],
        ),
      );
      assert.deepEqual(fields, {
        data: '{"n":1000000000000001}',
        topic: "logs",
        partition: "0",
        offset: "1000000000000001",
        key: "k",
        ingest_ts: "5",
        traceparent: "00-tp",
      });
      // A chunk whose predecessor was not applied writes nothing.
      const later = buildAppendCalls({ topic: "logs", partition: 1, items: items.slice(0, 14) }, {
        keys,
        maxlen: 1000,
        ingestTs: 5,
        chunkSize: 7,
      });
      await assert.rejects(appender.append([later[1]!]), /GAP/);
      assert.equal(await redis.hget(keys.bridgeOffsets(), "logs:1"), null);
    });
  },
);
