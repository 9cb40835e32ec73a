import assert from "node:assert/strict";
import type { Consumer } from "kafkajs";
import { silentLogger } from "@vigil/tools/testing/log";
import { createCommitter } from "./commits.ts";

type Offsets = { topic: string; partition: number; offset: string }[];

function fakeConsumer(fail: () => boolean = () => false) {
  const commits: Offsets[] = [];
  const consumer = {
    commitOffsets(offsets: Offsets) {
      if (fail()) return Promise.reject(new Error("REBALANCE_IN_PROGRESS"));
      commits.push(offsets);
      return Promise.resolve();
    },
  } as unknown as Consumer;
  return { consumer, commits };
}

Deno.test("createCommitter() commits the latest offset of each partition once per flush", async () => {
  const { consumer, commits } = fakeConsumer();
  const c = createCommitter({ consumer: () => consumer, log: silentLogger() });
  c.resolve("logs", 0, "10");
  c.resolve("logs", 0, "20");
  c.resolve("logs", 1, "5");
  assert.equal(c.pending, 2);
  await c.flush();
  await c.flush(); // nothing new: no second commit
  assert.deepEqual(commits, [[
    { topic: "logs", partition: 0, offset: "20" },
    { topic: "logs", partition: 1, offset: "5" },
  ]]);
  assert.equal(c.pending, 0);
});

Deno.test("createCommitter() keeps what a failed commit held, unless superseded or cleared", async () => {
  let failing = true;
  let rebalance = false;
  const { consumer, commits } = fakeConsumer(() => {
    if (rebalance) c.clear(); // the group rebalanced while the commit was in flight
    return failing;
  });
  const c = createCommitter({ consumer: () => consumer, log: silentLogger() });
  c.resolve("logs", 0, "10");
  c.resolve("logs", 1, "3");
  await c.flush();
  assert.equal(c.pending, 2, "kept for the next interval");
  failing = false;
  c.resolve("logs", 0, "11");
  await c.flush();
  assert.deepEqual(commits, [[
    { topic: "logs", partition: 0, offset: "11" },
    { topic: "logs", partition: 1, offset: "3" },
  ]]);
  // A failure that spans a rebalance is dropped: those partitions may be another member's.
  failing = true;
  rebalance = true;
  c.resolve("logs", 2, "7");
  await c.flush();
  assert.equal(c.pending, 0);
});

Deno.test("createCommitter() commits on its interval once started, and not after stop()", async () => {
  const { consumer, commits } = fakeConsumer();
  const c = createCommitter({ consumer: () => consumer, log: silentLogger(), intervalMs: 10 });
  c.start();
  try {
    c.resolve("metrics", 0, "1");
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(commits.length, 1);
  } finally {
    c.stop();
  }
  c.resolve("metrics", 0, "2");
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(commits.length, 1);
});
