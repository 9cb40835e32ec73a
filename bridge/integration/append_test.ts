/** The append script against the real Redis: exactly once per target stream, gaps once. */
import assert from "node:assert/strict";
import { withRedis } from "@vigil/tools/testing/redis";
import { startRedisServer } from "@vigil/tools/testing/redis_server";
import { waitFor } from "@vigil/tools/testing/wait";
import { createGroup, createRedis, type Redis } from "@vigil/shared/redis";
import { Redis as IORedis } from "ioredis";
import { createKeys, GROUPS, type Keys } from "@vigil/shared/keys";
import { fieldsToObject } from "@vigil/shared/schemas/stream";
import {
  appendBatch,
  type BatchItem,
  buildAppendCalls,
  createTally,
  ioredisAppendPort,
} from "../append.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const ts = "2025-01-01T00:00:00.000Z";
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
      route: { entity: "svc", timestamp: ts },
    },
});

Deno.test(
  "bridge_append-2.lua appends once per target, skips redelivered offsets and refuses a chunk whose predecessor failed",
  opts,
  async () => {
    await withRedis(async ({ redis, keys }) => {
      const port = ioredisAppendPort(redis);
      const items = Array.from({ length: 25 }, (_, i) => item(1_000_000_000_000_000 + i));
      const build = (list: BatchItem[], partition = 0) =>
        buildAppendCalls({ topic: "logs", partition, items: list }, {
          keys,
          partitions: 1,
          maxlen: 1000,
          ingestTs: 5,
          chunkSize: 7,
        });
      assert.deepEqual(await appendBatch(port, build(items.slice(0, 10))), {
        appended: 10,
        skipped: 0,
        gapRecorded: false,
        logReset: false,
      });
      // A redelivered, larger batch: the first 10 are skipped.
      assert.deepEqual(await appendBatch(port, build(items)), {
        appended: 15,
        skipped: 10,
        gapRecorded: false,
        logReset: false,
      });
      assert.deepEqual((await appendBatch(port, build(items))).appended, 0);
      const target = { kind: "logs" as const, partition: 0 };
      assert.equal(await redis.hget(keys.bridgeOffsets(target), "logs:0"), "1000000000000023");
      assert.equal(await redis.hget(keys.bridgeOffsets("dlq"), "logs:0"), "1000000000000024");
      const logs = await redis.xrange(keys.events("logs"), "-", "+");
      const dlq = await redis.xrange(keys.dlq(), "-", "+");
      assert.equal(logs.length, 18);
      assert.equal(dlq.length, 7);
      assert.deepEqual(fieldsToObject(logs[0]![1]), {
        data: '{"n":1000000000000001}',
        topic: "logs",
        partition: "0",
        offset: "1000000000000001",
        key: "k",
        ingest_ts: "5",
        traceparent: "00-tp",
      });
      // A chunk whose predecessor was not applied writes nothing.
      const later = build(items.slice(0, 14), 1);
      const second = later.find((c) => c.keys[1] === keys.events("logs") && c.args[5] !== "")!;
      await assert.rejects(appendBatch(port, [second]), /GAP/);
      assert.equal(await redis.hget(keys.bridgeOffsets(target), "logs:1"), null);
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

/** Six events of logs/0 from offset `from` + 1 (every 4th), for a stream of MAXLEN 10. */
function sixEvents(keys: Keys, from: number) {
  return buildAppendCalls({
    topic: "logs",
    partition: 0,
    items: Array.from({ length: 6 }, (_, i) => item(from + i * 4 + 1)),
  }, { keys, partitions: 1, maxlen: 10, ingestTs: 5 });
}

/** Read up to `count` new entries of `stream` as the detector's group; their ids. */
async function readAsDetector(redis: Redis, stream: string, count: number): Promise<string[]> {
  const read = await redis.xreadgroup(
    "GROUP",
    GROUPS.detector,
    "c",
    "COUNT",
    count,
    "STREAMS",
    stream,
    ">",
  ) as [string, [string, string[]][]][] | null;
  return (read?.[0]?.[1] ?? []).map(([id]) => id);
}

Deno.test(
  "bridge_append-2.lua never trims what the detector has not processed: FULL until it catches up",
  opts,
  async () => {
    await withRedis(async ({ redis, keys }) => {
      const port = ioredisAppendPort(redis);
      const stream = keys.events("logs");
      await createGroup(redis, stream, GROUPS.detector);
      assert.equal((await appendBatch(port, sixEvents(keys, 0))).appended, 6);
      // 6 unread + 6 new > 10: refused, nothing written (MAXLEN would have trimmed unread entries).
      await assert.rejects(
        appendBatch(port, sixEvents(keys, 100)),
        /FULL .*events:\{logs:0\}: 6 entries not yet processed by consumer group detector \(MAXLEN 10\)/,
      );
      assert.equal(await redis.xlen(stream), 6);
      // Read but not acknowledged (pending): still not processed.
      const ids = await readAsDetector(redis, stream, 6);
      await assert.rejects(
        appendBatch(port, sixEvents(keys, 100)),
        /FULL .*: 6 entries not yet processed/,
      );
      // Acknowledged: the next batch goes in, and a redelivery of it is skipped, not refused.
      await redis.xack(stream, GROUPS.detector, ...ids);
      assert.equal((await appendBatch(port, sixEvents(keys, 100))).appended, 6);
      assert.equal((await appendBatch(port, sixEvents(keys, 100))).skipped, 6);
      assert.equal(await redis.xlen(stream), 12, "MAXLEN ~ trims only whole nodes");
      // The dead-letter stream has no group: trimmed by MAXLEN as before.
      const dead = (from: number) =>
        buildAppendCalls({
          topic: "logs",
          partition: 0,
          items: Array.from({ length: 8 }, (_, i) => item(from + i * 4)),
        }, { keys, partitions: 1, maxlen: 10, ingestTs: 5 });
      await appendBatch(port, dead(1000));
      assert.equal((await appendBatch(port, dead(2000))).appended, 8);
    });
  },
);

Deno.test(
  "bridge_append-2.lua keeps a stream the detector never read: its group is made at the start",
  opts,
  async () => {
    await withRedis(async ({ redis, keys }) => {
      const port = ioredisAppendPort(redis);
      const stream = keys.events("logs");
      assert.equal((await appendBatch(port, sixEvents(keys, 0))).appended, 6);
      // No detector has started yet: MAXLEN would trim its first entries before it ever reads.
      await assert.rejects(
        appendBatch(port, sixEvents(keys, 100)),
        /FULL .*: 6 entries not yet processed/,
      );
      assert.equal(await redis.xlen(stream), 6);
      // The detector, started now, reads every entry from the first.
      const ids = await readAsDetector(redis, stream, 100);
      assert.equal(ids.length, 6);
      await redis.xack(stream, GROUPS.detector, ...ids);
      assert.equal((await appendBatch(port, sixEvents(keys, 100))).appended, 6);
    });
  },
);

Deno.test(
  "bridge_append-2.lua starts a partition again when its log was reset below the high-water",
  opts,
  async () => {
    await withRedis(async ({ redis, keys }) => {
      const port = ioredisAppendPort(redis);
      const build = (list: BatchItem[], highWatermark?: string) =>
        buildAppendCalls({ topic: "logs", partition: 3, items: list, highWatermark }, {
          keys,
          partitions: 1,
          maxlen: 1000,
          ingestTs: 5,
          chunkSize: 2,
        });
      const old = Array.from({ length: 9 }, (_, i) => item(100 + i)); // offsets 100..108
      assert.equal((await appendBatch(port, build(old, "109"))).appended, 9);
      // A redelivery is still a redelivery: the log reaches past the high-water.
      assert.deepEqual(await appendBatch(port, build(old.slice(5), "109")), {
        appended: 0,
        skipped: 4,
        gapRecorded: false,
        logReset: false,
      });
      // Without the high watermark the script cannot tell: the new log would be skipped.
      const fresh = Array.from({ length: 5 }, (_, i) => item(1 + i)); // offsets 1..5 of a new log
      assert.equal((await appendBatch(port, build(fresh))).skipped, 5);
      // The topic was created again: its log ends at 6, below the high-water 108
      // (events and dead letters alike, in chunks of 2).
      assert.deepEqual(await appendBatch(port, build(fresh, "6")), {
        appended: 5,
        skipped: 0,
        gapRecorded: false,
        logReset: true,
      });
      const target = { kind: "logs" as const, partition: 0 };
      assert.equal(await redis.hget(keys.bridgeOffsets(target), "logs:3"), "5");
      assert.equal(await redis.hget(keys.bridgeOffsets("dlq"), "logs:3"), "4");
      // And from there on, exactly once again.
      assert.deepEqual(await appendBatch(port, build(fresh, "6")), {
        appended: 0,
        skipped: 5,
        gapRecorded: false,
        logReset: false,
      });
      const offsets = (await redis.xrange(keys.events("logs"), "-", "+"))
        .map(([, f]) => fieldsToObject(f).offset);
      assert.deepEqual(offsets.slice(-4), ["1", "2", "3", "5"]);
    });
  },
);

Deno.test(
  "bridge_append-2.lua records a gap once, and the progress write goes with the batch",
  opts,
  async () => {
    await withRedis(async ({ redis, keys }) => {
      const port = ioredisAppendPort(redis);
      const events = [item(50), item(51)];
      const gap = { from: "10", to: "39", count: 30 };
      const calls = buildAppendCalls({ topic: "logs", partition: 2, items: events }, {
        keys,
        partitions: 1,
        maxlen: 1000,
        ingestTs: 7,
        gap,
      });
      const after = { key: keys.bridgeProgress(), field: "logs:2", value: "51", previous: null };
      assert.deepEqual(await appendBatch(port, calls, after), {
        appended: 2,
        skipped: 0,
        gapRecorded: true,
        logReset: false,
      });
      assert.equal(await redis.hget(keys.bridgeProgress(), "logs:2"), "51");
      // Redelivered with the same gap: nothing new.
      assert.deepEqual(await appendBatch(port, calls, after), {
        appended: 0,
        skipped: 3,
        gapRecorded: false,
        logReset: false,
      });
      const dlq = (await redis.xrange(keys.dlq(), "-", "+")).map(([, f]) => fieldsToObject(f));
      assert.equal(dlq.length, 1);
      assert.deepEqual(
        [dlq[0]!.from, dlq[0]!.to, dlq[0]!.count, dlq[0]!.offset, dlq[0]!.partition],
        ["10", "39", "30", "10", "2"],
      );
      assert.match(dlq[0]!.reason!, /^gap: offsets 10\.\.39 \(30 messages\) were deleted by Kafka/);
    });
  },
);

Deno.test(
  "appendBatch() tallies the gap an attempt wrote before another stream refused the batch: the retry skips it",
  opts,
  async () => {
    await withRedis(async ({ redis, keys }) => {
      const port = ioredisAppendPort(redis);
      const stream = keys.events("logs");
      await createGroup(redis, stream, GROUPS.detector);
      assert.equal((await appendBatch(port, sixEvents(keys, 0))).appended, 6);
      // A batch with a gap: the dead-letter stream takes the gap, the event stream is full.
      const gap = { from: "30", to: "99", count: 70 };
      const calls = buildAppendCalls({
        topic: "logs",
        partition: 0,
        items: Array.from({ length: 6 }, (_, i) => item(100 + i * 4 + 1)),
      }, { keys, partitions: 1, maxlen: 10, ingestTs: 5, gap });
      const written = createTally();
      await assert.rejects(appendBatch(port, calls, undefined, written), /FULL /);
      assert.equal(written.gaps, 1);
      assert.equal(await redis.xlen(keys.dlq()), 1);
      // The detector caught up: the retry appends the events and skips the gap it had written.
      await redis.xack(stream, GROUPS.detector, ...await readAsDetector(redis, stream, 6));
      const retried = await appendBatch(port, calls, undefined, written);
      assert.deepEqual(retried, { appended: 6, skipped: 1, gapRecorded: false, logReset: false });
      assert.equal(written.gaps, 1, "one gap written over the attempts");
      // Counted once: the six events, no redelivery (the gap was this batch's own).
      assert.deepEqual([...written.events], [["logs", 6]]);
      assert.equal(written.duplicates, 0);
      assert.equal(await redis.xlen(keys.dlq()), 1);
      // A redelivery of the whole batch writes nothing.
      const again = createTally();
      assert.equal((await appendBatch(port, calls, undefined, again)).skipped, 7);
      assert.deepEqual([again.gaps, again.events.size, again.duplicates], [0, 0, 6]);
    });
  },
);

Deno.test(
  "ioredisAppendPort() sends the script by its SHA-1 and sends the source again to a Redis that lost it",
  opts,
  async () => {
    // A private Redis: SCRIPT FLUSH must not disturb anyone else's scripts.
    const server = await startRedisServer();
    const redis = createRedis(server.url, { name: "append-test" });
    const monitor = new IORedis(server.url); // MONITOR: a single-server client
    try {
      const keys = createKeys("t:");
      const port = ioredisAppendPort(redis);
      const build = (from: number, n: number) =>
        buildAppendCalls(
          {
            topic: "logs",
            partition: 0,
            items: Array.from({ length: n }, (_, i) => item(from + i)),
          },
          { keys, partitions: 1, maxlen: 1000, ingestTs: 5 },
        );
      const sent: string[] = [];
      const m = await monitor.monitor();
      m.on("monitor", (_time: string, args: string[]) => sent.push(String(args[0]).toLowerCase()));
      const batches = [build(1, 3), ...[0, 1, 2, 3, 4].map((i) => build(10 + 3 * i, 3))];
      for (const calls of batches) await appendBatch(port, calls); // the first: NOSCRIPT, then EVAL
      await redis.script("FLUSH");
      const last = build(100, 3);
      assert.equal((await appendBatch(port, last)).appended, 3);
      // MONITOR tells commands in the order Redis ran them: once this one is seen, so are all above.
      await redis.echo("the last command");
      await waitFor(() => sent.includes("echo"), { timeoutMs: 30_000, what: "MONITOR's ECHO" });
      m.disconnect();
      const count = (name: string) => sent.filter((c) => c === name).length;
      const calls = [...batches, last].reduce((n, b) => n + b.length, 0);
      // Every call first by SHA; the source only again after NOSCRIPT (first and last batch).
      assert.equal(count("evalsha"), calls, sent.join(","));
      assert.equal(count("eval"), batches[0]!.length + last.length, sent.join(","));
      assert.ok(calls > count("eval") * 2);
    } finally {
      redis.disconnect();
      monitor.disconnect();
      await server.close();
    }
  },
);
