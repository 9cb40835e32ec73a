import assert from "node:assert/strict";
import { createKeys } from "@vigil/shared/keys";
import {
  type AppendPort,
  type BatchItem,
  buildAppendCalls,
  type CallResult,
  createAppender,
  HoleError,
  type ScriptCall,
} from "./append.ts";

const keys = createKeys("t:");
const event = (offset: string): BatchItem => ({
  offset,
  classified: { kind: "event", type: "metrics", data: "{}", key: "k", traceparent: "" },
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

Deno.test("buildAppendCalls() chunks a batch and chains each chunk to the previous last offset", () => {
  const items = [event("10"), dead("11"), event("13"), event("14"), event("15")];
  const calls = buildAppendCalls({ topic: "metrics", partition: 2, items }, {
    keys,
    maxlen: 1000,
    ingestTs: 123,
    chunkSize: 2,
  });
  assert.equal(calls.length, 3);
  assert.deepEqual(calls.map((c) => c.count), [2, 2, 1]);
  assert.deepEqual(calls[0]!.keys, [
    "t:bridge:offsets",
    "t:dlq",
    "t:events:logs",
    "t:events:metrics",
    "t:events:transactions",
  ]);
  assert.deepEqual(calls[0]!.args.slice(0, 8), [
    "metrics:2",
    "1000",
    "metrics",
    "2",
    "123",
    "",
    "10",
    "",
  ]);
  assert.deepEqual(calls[0]!.args.slice(8), [
    "10",
    "4",
    "{}",
    "k",
    "",
    "11",
    "2",
    "",
    "empty: no value",
    "utf8",
    "0",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "k1",
    "utf8",
  ]);
  // Later chunks name the previous chunk's last offset and carry no cover-from.
  assert.deepEqual(calls[1]!.args.slice(5, 8), ["11", "", ""]);
  assert.deepEqual(calls[2]!.args.slice(5, 8), ["14", "", ""]);
  // After a HOLE answer: the batch's cover-from and the partition's log start.
  const again = buildAppendCalls({ topic: "metrics", partition: 2, items }, {
    keys,
    maxlen: 1000,
    ingestTs: 123,
    coverFrom: "7",
    logStart: "9",
  });
  assert.deepEqual(again[0]!.args.slice(5, 8), ["", "7", "9"]);
});

Deno.test("createAppender() reloads the script once after NOSCRIPT and sums the results", async () => {
  let loads = 0;
  let runs = 0;
  const port: AppendPort = {
    loadScript: () => Promise.resolve(`sha${++loads}`),
    evalshaAll: (sha: string, calls: readonly ScriptCall[]): Promise<CallResult[]> => {
      runs++;
      if (sha === "sha1") {
        return Promise.resolve(
          calls.map(() => ({ ok: false, error: new Error("NOSCRIPT No matching script") })),
        );
      }
      return Promise.resolve(calls.map(() => ({ ok: true, appended: 2, skipped: 1 })));
    },
  };
  const appender = createAppender(port);
  const call = { keys: [], args: [], count: 3 };
  assert.deepEqual(await appender.append([call, call]), { appended: 4, skipped: 2 });
  assert.equal(loads, 2);
  assert.equal(runs, 2);
  await assert.rejects(
    createAppender({
      loadScript: () => Promise.resolve("x"),
      evalshaAll: () => Promise.resolve([{ ok: false, error: new Error("GAP previous chunk") }]),
    }).append([call]),
    /Cannot append batch to Redis: GAP/,
  );
  const hole = await createAppender({
    loadScript: () => Promise.resolve("x"),
    evalshaAll: () => Promise.resolve([{ ok: false, error: new Error("ERR HOLE 41 script") }]),
  }).append([call]).catch((e) => e);
  assert.ok(hole instanceof HoleError);
  assert.equal(hole.highWater, "41");
  const gap = { from: "5", to: "9", count: 5 };
  assert.deepEqual(
    await createAppender({
      loadScript: () => Promise.resolve("x"),
      evalshaAll: () =>
        Promise.resolve([
          { ok: true, appended: 1, skipped: 0, gap },
          { ok: true, appended: 2, skipped: 0 },
        ]),
    }).append([call, call]),
    { appended: 3, skipped: 0, gap },
  );
});
