import assert from "node:assert/strict";
import { silentLogger } from "@vigil/shared/log";
import {
  type BatchHandler,
  compareIds,
  createConsumer,
  type DeadLetterEntry,
  type Delivery,
  type RawEntry,
  type StreamClient,
} from "./consumer.ts";

/** An in-memory stream with one consumer group, enough for the consumer's commands. */
function fakeStream(now: () => number) {
  const entries: { id: string; fields: string[] }[] = [];
  const pel = new Map<string, { consumer: string; deliveries: number; at: number }>();
  let lastDelivered = "0-0";
  const acked: string[] = [];
  const dead: DeadLetterEntry[] = [];
  let seq = 0;
  const client: StreamClient = {
    createGroup: () => Promise.resolve(),
    readGroup(_s, _g, consumer, { id, count }) {
      if (id === ">") {
        const out = entries.filter((e) => compareIds(e.id, lastDelivered) > 0).slice(0, count);
        for (const e of out) pel.set(e.id, { consumer, deliveries: 1, at: now() });
        if (out.length) lastDelivered = out[out.length - 1]!.id;
        return Promise.resolve(out);
      }
      const out: RawEntry[] = [];
      for (const e of entries) {
        const p = pel.get(e.id);
        if (p && p.consumer === consumer && compareIds(e.id, id) > 0 && out.length < count) {
          p.deliveries++;
          out.push(e);
        }
      }
      return Promise.resolve(out);
    },
    autoclaim(_s, _g, consumer, { minIdleMs }) {
      const out: RawEntry[] = [];
      for (const e of entries) {
        const p = pel.get(e.id);
        if (p && p.consumer !== consumer && now() - p.at >= minIdleMs) {
          p.consumer = consumer;
          p.deliveries++;
          p.at = now();
          out.push(e);
        }
      }
      return Promise.resolve({ next: "0-0", entries: out, deleted: [] });
    },
    pending: () =>
      Promise.resolve(
        [...pel].map(([id, p]) => ({
          id,
          consumer: p.consumer,
          idleMs: now() - p.at,
          deliveries: p.deliveries,
        }))
          .sort((a, b) => compareIds(a.id, b.id)),
      ),
    lastDeliveredId: () => Promise.resolve(lastDelivered),
    range(_s, after, end, count) {
      return Promise.resolve(
        entries.filter((e) => compareIds(e.id, after) > 0 && compareIds(e.id, end) <= 0).slice(
          0,
          count,
        ),
      );
    },
    ack(_s, _g, ids, deadLetters) {
      for (const id of ids) {
        pel.delete(id);
        acked.push(id);
      }
      dead.push(...deadLetters);
      return Promise.resolve();
    },
  };
  return {
    client,
    pel,
    acked,
    dead,
    add(n: number) {
      for (let i = 0; i < n; i++) {
        entries.push({ id: `${1000 + ++seq}-0`, fields: ["n", String(seq)] });
      }
    },
    deliver(consumer: string, count: number, deliveries = 1, at = now()) {
      const out = entries.filter((e) => compareIds(e.id, lastDelivered) > 0).slice(0, count);
      for (const e of out) pel.set(e.id, { consumer, deliveries, at });
      lastDelivered = out[out.length - 1]!.id;
    },
  };
}

/** A handler recording what it saw; stops the consumer after `stopAfter` live entries. */
function recorder(checkpoint: string | null, stop: AbortController, stopAfter: number) {
  const seen: Delivery[] = [];
  const committed: string[] = [];
  const handler: BatchHandler = {
    restore: () => Promise.resolve(checkpoint),
    process(batch) {
      seen.push(...batch);
      if (seen.filter((d) => d.live).length >= stopAfter) queueMicrotask(() => stop.abort());
      return Promise.resolve([]);
    },
    committed(lastId) {
      committed.push(lastId);
      return Promise.resolve();
    },
  };
  return { handler, seen, committed };
}

Deno.test("createConsumer() replays from the checkpoint, claims a dead consumer's entries, then reads new ones in order", async () => {
  let clock = 100_000;
  const s = fakeStream(() => clock);
  s.add(10);
  s.deliver("dead", 6, 1, clock - 60_000); // 1001..1006 delivered to a dead consumer long ago
  s.acked.push(); // none acknowledged by the group in this story
  // The dead consumer had acknowledged 1001..1003 and checkpointed up to 1002.
  for (const id of ["1001-0", "1002-0", "1003-0"]) s.pel.delete(id);
  const stop = new AbortController();
  const r = recorder("1002-0", stop, 7);
  await createConsumer({
    client: s.client,
    stream: "s",
    group: "g",
    consumer: "me",
    handler: r.handler,
    log: silentLogger(),
    claimIdleMs: 30_000,
    blockMs: 1,
  }).run(stop.signal);
  assert.deepEqual(
    r.seen.map((d) => [d.id, d.live]),
    [
      ["1003-0", false], // acknowledged, after the checkpoint: state only
      ["1004-0", true], // claimed from the dead consumer: processed for real
      ["1005-0", true],
      ["1006-0", true],
      ["1007-0", true], // new
      ["1008-0", true],
      ["1009-0", true],
      ["1010-0", true],
    ],
  );
  assert.equal(r.seen.find((d) => d.id === "1004-0")!.deliveries, 2);
  assert.deepEqual(s.acked, ["1004-0", "1005-0", "1006-0", "1007-0", "1008-0", "1009-0", "1010-0"]);
  assert.equal(s.pel.size, 0);
  assert.equal(r.committed[r.committed.length - 1], "1010-0");
  clock++;
});

Deno.test("createConsumer() stopping with a batch read ahead processes it instead of leaving it pending", async () => {
  const s = fakeStream(() => 0);
  s.add(25); // a backlog: batches of 10 are read one ahead
  const stop = new AbortController();
  const r = recorder(null, stop, 10); // stop right after the first batch
  await createConsumer({
    client: s.client,
    stream: "s",
    group: "g",
    consumer: "me",
    handler: r.handler,
    log: silentLogger(),
    claimIdleMs: 30_000,
    blockMs: 1,
    batchSize: 10,
  }).run(stop.signal);
  assert.equal(r.seen.length, 20, "the batch in hand and the one read ahead");
  assert.equal(s.acked.length, 20);
  assert.equal(s.pel.size, 0, "nothing left pending for another consumer to claim");
});

Deno.test("createConsumer() waits until another consumer's pending entries are idle long enough", async () => {
  let clock = 0;
  const s = fakeStream(() => clock);
  s.add(2);
  s.deliver("other", 2, 1, 0);
  const stop = new AbortController();
  const r = recorder(null, stop, 2);
  const timer = setInterval(() => (clock += 400), 50);
  try {
    await createConsumer({
      client: s.client,
      stream: "s",
      group: "g",
      consumer: "me",
      handler: r.handler,
      log: silentLogger(),
      claimIdleMs: 1000,
      blockMs: 1,
    }).run(stop.signal);
  } finally {
    clearInterval(timer);
  }
  assert.ok(clock >= 1000, "claimed only after the idle time");
  assert.deepEqual(r.seen.map((d) => [d.id, d.live]), [["1001-0", true], ["1002-0", true]]);
});

Deno.test("createConsumer() dead-letters an entry delivered more than maxDeliveries times without processing it", async () => {
  const s = fakeStream(() => 1_000_000);
  s.add(3);
  s.deliver("me", 1, 5); // 1001: delivered 5 times already (re-read now: 6)
  const stop = new AbortController();
  const r = recorder(null, stop, 2);
  await createConsumer({
    client: s.client,
    stream: "s",
    group: "g",
    consumer: "me",
    handler: r.handler,
    log: silentLogger(),
    maxDeliveries: 5,
    blockMs: 1,
  }).run(stop.signal);
  assert.deepEqual(r.seen.map((d) => d.id), ["1002-0", "1003-0"]);
  assert.equal(s.dead.length, 1);
  assert.equal(s.dead[0]!.id, "1001-0");
  assert.match(s.dead[0]!.reason, /delivered 6 times/);
  assert.ok(s.acked.includes("1001-0"));
});

Deno.test("createConsumer() acknowledges nothing when the handler fails", async () => {
  const s = fakeStream(() => 0);
  s.add(3);
  const handler: BatchHandler = {
    restore: () => Promise.resolve(null),
    process: () => Promise.reject(new Error("Cannot store: boom")),
    committed: () => Promise.resolve(),
  };
  await assert.rejects(
    createConsumer({
      client: s.client,
      stream: "s",
      group: "g",
      consumer: "me",
      handler,
      log: silentLogger(),
      blockMs: 1,
    })
      .run(new AbortController().signal),
    /boom/,
  );
  assert.deepEqual(s.acked, []);
  assert.equal(s.pel.size, 3, "still pending: redelivered after a restart");
});

Deno.test("compareIds() orders stream ids numerically", () => {
  assert.equal(compareIds("9-0", "10-0"), -1);
  assert.equal(compareIds("10-2", "10-10"), -1);
  assert.equal(compareIds("10-1", "10-1"), 0);
  assert.equal(compareIds("11-0", "10-99"), 1);
});
