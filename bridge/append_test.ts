import assert from "node:assert/strict";
import { createKeys } from "@vigil/shared/keys";
import { partitionOf } from "@vigil/shared/partitions";
import {
  appendBatch,
  type AppendPort,
  type BatchItem,
  buildAppendCalls,
  type CallResult,
  createTally,
} from "./append.ts";
import type { RouteFields } from "./classify.ts";

const keys = createKeys("t:");
const event = (
  offset: string,
  type: "logs" | "metrics" | "transactions",
  route: RouteFields,
): BatchItem => ({
  offset,
  classified: { kind: "event", type, data: `{"o":${offset}}`, key: "k", traceparent: "", route },
});
const dead = (offset: string): BatchItem => ({
  offset,
  classified: {
    kind: "dead",
    reasonKind: "empty",
    reason: "empty: no value",
    raw: "",
    encoding: "utf8",
    size: 0,
    sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    key: "k1",
    keyEncoding: "utf8",
  },
});
const ts = "2025-01-01T00:00:00.000Z";
const metric = (offset: string, service = "api") =>
  event(offset, "metrics", { entity: service, timestamp: ts });

Deno.test("buildAppendCalls() with one partition: per target stream, chunks chained to the previous last offset", () => {
  const items = [metric("10"), dead("11"), metric("13"), metric("14"), metric("15")];
  const calls = buildAppendCalls({ topic: "metrics", partition: 2, items }, {
    keys,
    partitions: 1,
    maxlen: 1000,
    ingestTs: 123,
    chunkSize: 2,
  });
  assert.deepEqual(
    calls.map((c) => [c.keys, c.counts.length, c.args[5]]),
    [
      [["t:bridge:offsets:{metrics:0}", "t:events:{metrics:0}"], 2, ""],
      [["t:bridge:offsets:{metrics:0}", "t:events:{metrics:0}"], 2, "13"],
      [["t:bridge:offsets:{dlq}", "t:{dlq}"], 1, ""],
    ],
  );
  assert.deepEqual(calls[0]!.args.slice(0, 5), ["metrics:2", "1000", "metrics", "2", "123"]);
  // The group whose unprocessed entries MAXLEN must not trim: the detector's; none for the dlq.
  assert.deepEqual(calls.map((c) => c.args[7]), ["detector", "detector", ""]);
  assert.deepEqual(calls[0]!.args.slice(8), [
    "e",
    "10",
    '{"o":10}',
    "k",
    "",
    "e",
    "13",
    '{"o":13}',
    "k",
    "",
  ]);
  assert.deepEqual(calls[2]!.args.slice(8), [
    "d",
    "11",
    "",
    "empty: no value",
    "utf8",
    "0",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "k1",
    "utf8",
  ]);
});

Deno.test("buildAppendCalls() with several partitions: by entity, plus the projections of user and status", () => {
  const P = 4;
  const items = [
    event("1", "logs", { entity: "checkout", timestamp: ts, user: "u7" }),
    event("2", "logs", { entity: "checkout", timestamp: ts }), // no user: no projection
    event("3", "transactions", { entity: "u9", timestamp: ts, status: "failed" }),
  ];
  const calls = buildAppendCalls({ topic: "logs", partition: 0, items }, {
    keys,
    partitions: P,
    maxlen: 1000,
    ingestTs: 1,
  });
  const byStream = new Map(calls.map((c) => [c.keys[1], c.args.slice(8)]));
  assert.deepEqual(
    byStream.get(`t:events:{logs:${partitionOf("checkout", P)}}`)?.filter((_, i) => i % 5 === 1),
    ["1", "2"],
  );
  assert.deepEqual(byStream.get(`t:events:{logs_by_user:${partitionOf("u7", P)}}`), [
    "e",
    "1",
    `{"timestamp":"${ts}","user_id":"u7"}`,
    "k",
    "",
  ]);
  assert.deepEqual(byStream.get(`t:events:{transactions:${partitionOf("u9", P)}}`)?.[1], "3");
  assert.deepEqual(
    byStream.get(`t:events:{transactions_by_status:${partitionOf("failed", P)}}`)?.[2],
    `{"timestamp":"${ts}","status":"failed"}`,
  );
  for (const c of calls) {
    // Stream and offsets share one hash tag (one cluster slot).
    assert.equal(c.keys[0].match(/\{.*\}/)?.[0], c.keys[1].match(/\{.*\}/)?.[0]);
  }
});

Deno.test("buildAppendCalls() puts a gap record first in the dead-letter stream", () => {
  const calls = buildAppendCalls({ topic: "metrics", partition: 0, items: [metric("50")] }, {
    keys,
    partitions: 1,
    maxlen: 9,
    ingestTs: 1,
    gap: { from: "10", to: "49", count: 40 },
  });
  const dlq = calls.find((c) => c.keys[1] === "t:{dlq}")!;
  assert.deepEqual(dlq.args.slice(8), ["g", "49", "10", "40"]);
});

Deno.test("buildAppendCalls() passes the partition's high watermark when it is a number", () => {
  const build = (highWatermark?: string) =>
    buildAppendCalls({ topic: "metrics", partition: 0, items: [metric("50")], highWatermark }, {
      keys,
      partitions: 1,
      maxlen: 9,
      ingestTs: 1,
    })[0]!.args[6];
  assert.equal(build("51"), "51");
  assert.equal(build(undefined), "");
  assert.equal(build("-1"), "");
});

Deno.test("appendBatch() sums the calls' results and fails the whole batch when one call failed", async () => {
  const port = (results: CallResult[]): AppendPort => ({
    runAll: () => Promise.resolve(results),
    forget: () => Promise.resolve(),
  });
  const call = { keys: ["a", "b"] as [string, string], args: [], counts: [] };
  assert.deepEqual(
    await appendBatch(
      port([
        { ok: true, appended: 2, skipped: 1, gaps: 0, reset: false },
        { ok: true, appended: 1, skipped: 0, gaps: 1, reset: true },
      ]),
      [call, call],
    ),
    { appended: 3, skipped: 1, gapRecorded: true, logReset: true },
  );
  await assert.rejects(
    appendBatch(
      port([
        { ok: true, appended: 1, skipped: 0, gaps: 0, reset: false },
        { ok: false, error: new Error("GAP previous chunk") },
      ]),
      [call, call],
    ),
    /Cannot append batch to Redis: GAP/,
  );
});

Deno.test("appendBatch() counts each call once, by the attempt that applied it, with a tally kept over the attempts", async () => {
  const items = [metric("10"), dead("11"), metric("12"), metric("13"), metric("14")];
  const calls = buildAppendCalls({ topic: "metrics", partition: 0, items }, {
    keys,
    partitions: 1,
    maxlen: 1000,
    ingestTs: 1,
    chunkSize: 2,
    gap: { from: "3", to: "9", count: 7 },
  });
  // Dead letters: the gap, 11; events 10,12 | 13,14.
  const classified = items.map((i) => i.classified);
  assert.deepEqual(calls.map((c) => c.counts), [
    ["gap", classified[1]],
    [classified[0], classified[2]],
    [classified[3], classified[4]],
  ]);
  const ok = (appended: number, skipped: number, gaps = 0): CallResult => ({
    ok: true,
    appended,
    skipped,
    gaps,
    reset: false,
  });
  const refused: CallResult = { ok: false, error: new Error("FULL stream") };
  const attempts = [
    // The first events chunk had been appended before a crash: 10 is redelivered, 12 new.
    [ok(1, 0, 1), ok(1, 1), refused],
    // The retry finds what the first attempt wrote: skipped, but not redelivered.
    [ok(0, 2), ok(0, 2), ok(2, 0)],
  ];
  let attempt = 0;
  const port: AppendPort = {
    runAll: () => Promise.resolve(attempts[attempt++]!),
    forget: () => Promise.resolve(),
  };
  const tally = createTally();
  await assert.rejects(appendBatch(port, calls, undefined, tally), /FULL/);
  await appendBatch(port, calls, undefined, tally);
  assert.deepEqual(tally.events, new Map([["metrics", 3]]));
  assert.deepEqual(tally.dead, new Map([["empty", 1]]));
  assert.equal(tally.gaps, 1);
  assert.equal(tally.duplicates, 1);
});

Deno.test("buildAppendCalls() counts an event once, not its copy in a projection stream", () => {
  const items = [event("7", "logs", { entity: "api", timestamp: ts, user: "u1" })];
  const calls = buildAppendCalls({ topic: "logs", partition: 0, items }, {
    keys,
    partitions: 2,
    maxlen: 1000,
    ingestTs: 1,
  });
  assert.deepEqual(calls.map((c) => c.counts), [[items[0]!.classified], [null]]);
});
