import assert from "node:assert/strict";
import { createKeys } from "@vigil/shared/keys";
import {
  type AppendPort,
  type BatchItem,
  buildAppendCalls,
  type CallResult,
  createAppender,
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
  assert.deepEqual(calls[0]!.args.slice(0, 6), ["metrics:2", "1000", "metrics", "2", "123", ""]);
  assert.deepEqual(calls[0]!.args.slice(6), [
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
  ]);
  assert.equal(calls[1]!.args[5], "11");
  assert.equal(calls[2]!.args[5], "14");
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
});
