import assert from "node:assert/strict";
import { withRedis } from "@vigil/tools/testing/redis";
import { fieldsToObject } from "@vigil/shared/schemas/stream";
import {
  type BatchItem,
  buildAppendCalls,
  createAppender,
  HoleError,
  ioredisAppendPort,
} from "../append.ts";

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
      size: 1,
      sha256: "021fb596db81e6d02bf3d2586ee3981fe519f275c0ac9ca76bbcf2ebb4097d96",
      key: offset % 8 === 0 ? "" : "k\u00e9",
      keyEncoding: offset % 8 === 0 ? "" : "utf8",
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
      // Dead letters keep their size, SHA-256 and key (none when the message had none).
      const deadFields = dlq.map(([, f]) => fieldsToObject(f));
      const withKey = deadFields.find((f) => f.offset === "1000000000000004")!;
      assert.equal(withKey.key, "k\u00e9");
      assert.equal(withKey.key_encoding, "utf8");
      assert.equal(withKey.size, "1");
      assert.equal(
        withKey.sha256,
        "021fb596db81e6d02bf3d2586ee3981fe519f275c0ac9ca76bbcf2ebb4097d96",
      );
      const noKey = deadFields.find((f) => f.offset === "1000000000000000")!;
      assert.equal(noKey.key, undefined);
      assert.equal(noKey.key_encoding, undefined);
    });
  },
);

Deno.test(
  "bridge_append-5.lua records a hole below the log start once as a gap, and passes over the rest",
  opts,
  async () => {
    await withRedis(async ({ redis, keys }) => {
      const appender = createAppender(ioredisAppendPort(redis));
      const events = (from: number, to: number): BatchItem[] =>
        Array.from({ length: to - from + 1 }, (_, i) => ({
          offset: String(from + i),
          classified: {
            kind: "event",
            type: "logs",
            data: `{"n":${from + i}}`,
            key: "",
            traceparent: "",
          },
        }));
      const build = (list: BatchItem[], more: { coverFrom?: string; logStart?: string } = {}) =>
        buildAppendCalls({ topic: "logs", partition: 2, items: list }, {
          keys,
          maxlen: 1000,
          ingestTs: 7,
          chunkSize: 4,
          ...more,
        });
      // Nothing stored yet: no hole can be told from a first start.
      assert.deepEqual(await appender.append(build(events(5, 9))), { appended: 5, skipped: 0 });
      // 10..49 were never read: the script asks for the log start and writes nothing.
      const hole = await appender.append(build(events(50, 59))).catch((e) => e);
      assert.ok(hole instanceof HoleError, String(hole));
      assert.equal(hole.highWater, "9");
      assert.equal(await redis.xlen(keys.events("logs")), 5);
      // Kafka keeps 40.. now: 10..39 were deleted (a gap), 40..49 are markers or aborted.
      const gap = { from: "10", to: "39", count: 30 };
      assert.deepEqual(await appender.append(build(events(50, 59), { logStart: "40" })), {
        appended: 10,
        skipped: 0,
        gap,
      });
      // A redelivery records it no second time.
      assert.deepEqual(await appender.append(build(events(50, 59), { logStart: "45" })), {
        appended: 0,
        skipped: 10,
      });
      const dead = (await redis.xrange(keys.dlq(), "-", "+")).map(([, f]) => fieldsToObject(f));
      assert.equal(dead.length, 1);
      assert.equal(dead[0]!.source, "bridge");
      assert.match(dead[0]!.reason!, /^gap: offsets 10\.\.39 \(30 messages\)/);
      assert.deepEqual(
        [dead[0]!.topic, dead[0]!.partition, dead[0]!.from, dead[0]!.to, dead[0]!.count],
        ["logs", "2", "10", "39", "30"],
      );
      // A hole entirely at or above the log start (transaction markers) is no loss.
      assert.deepEqual(await appender.append(build(events(62, 63), { logStart: "12" })), {
        appended: 2,
        skipped: 0,
      });
      // The batch accounts for 60..61 itself (its first records were markers): no hole.
      assert.deepEqual(await appender.append(build(events(66, 67), { coverFrom: "64" })), {
        appended: 2,
        skipped: 0,
      });
      assert.equal(await redis.xlen(keys.dlq()), 1);
      assert.equal(await redis.hget(keys.bridgeOffsets(), "logs:2"), "67");
    });
  },
);
