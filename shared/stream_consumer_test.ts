import assert from "node:assert/strict";
import { createLogger } from "./log.ts";
import { silentLogger } from "@vigil/tools/testing/log";
import {
  type BatchHandler,
  createStreamConsumer,
  type Delivery,
  type StreamConsumerOptions,
} from "./stream_consumer.ts";
import { compareIds, type DeadLetterEntry, type RawEntry, type StreamPort } from "./stream_port.ts";

/** An in-memory stream with one consumer group: the commands of StreamPort, as Redis does them. */
function fakeStream(now: () => number) {
  const entries: { id: string; fields: string[] }[] = [];
  const pel = new Map<string, { consumer: string; deliveries: number; at: number }>();
  let lastDelivered = "0-0";
  const acked: string[] = [];
  const dead: DeadLetterEntry[] = [];
  let seq = 0;
  const port: StreamPort = {
    createGroup: () => Promise.resolve(),
    async readGroup(_s, _g, consumer, { id, count, blockMs }) {
      if (id === ">") {
        const out = entries.filter((e) => compareIds(e.id, lastDelivered) > 0).slice(0, count);
        for (const e of out) pel.set(e.id, { consumer, deliveries: 1, at: now() });
        if (out.length) lastDelivered = out[out.length - 1]!.id;
        // BLOCK: nothing new waits (timers run meanwhile), as Redis does.
        else if (blockMs) await new Promise((r) => setTimeout(r, blockMs));
        return out;
      }
      const out: RawEntry[] = [];
      for (const e of entries) {
        const p = pel.get(e.id);
        if (p && p.consumer === consumer && compareIds(e.id, id) > 0 && out.length < count) {
          p.deliveries++;
          p.at = now();
          out.push(e);
        }
      }
      return out;
    },
    autoclaim(_s, _g, consumer, { minIdleMs }) {
      const out: RawEntry[] = [];
      for (const e of entries) {
        const p = pel.get(e.id);
        if (p && now() - p.at >= minIdleMs) {
          p.consumer = consumer;
          p.deliveries++;
          p.at = now();
          out.push(e);
        }
      }
      return Promise.resolve({ next: "0-0", entries: out });
    },
    pending(_s, _g, { start, end = "+", count, consumer }) {
      const lo = start === "-" ? "0-0" : start.replace(/^\(/, "");
      return Promise.resolve(
        [...pel]
          .filter(([id, p]) =>
            (!consumer || p.consumer === consumer) &&
            (start.startsWith("(") ? compareIds(id, lo) > 0 : compareIds(id, lo) >= 0) &&
            (end === "+" || compareIds(id, end) <= 0)
          )
          .map(([id, p]) => ({
            id,
            consumer: p.consumer,
            idleMs: now() - p.at,
            deliveries: p.deliveries,
          }))
          .sort((a, b) => compareIds(a.id, b.id))
          .slice(0, count),
      );
    },
    lastDeliveredId: () => Promise.resolve(lastDelivered),
    range(_s, after, end, count) {
      return Promise.resolve(
        entries.filter((e) => compareIds(e.id, after) > 0 && compareIds(e.id, end) <= 0)
          .slice(0, count),
      );
    },
    ack(_s, _g, ids, deadLetters) {
      dead.push(...deadLetters);
      for (const id of [...ids, ...deadLetters.map((d) => d.id)]) {
        if (pel.delete(id)) acked.push(id);
      }
      return Promise.resolve();
    },
  };
  return {
    port,
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
function recorder(checkpoint: string | null | undefined, stop: AbortController, stopAfter: number) {
  const seen: Delivery[] = [];
  const committed: string[] = [];
  const handler: BatchHandler = {
    ...(checkpoint !== undefined ? { restore: () => Promise.resolve(checkpoint) } : {}),
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

function options(
  s: ReturnType<typeof fakeStream>,
  handler: BatchHandler,
  extra: Partial<StreamConsumerOptions> = {},
): StreamConsumerOptions {
  return {
    port: s.port,
    stream: "s",
    group: "g",
    consumer: "me",
    handler,
    log: silentLogger(),
    claimIdleMs: 30_000,
    blockMs: 1,
    ...extra,
  };
}

Deno.test("createStreamConsumer() replays from the checkpoint, claims a dead consumer's entries, then reads new ones in order", async () => {
  const clock = 100_000;
  const s = fakeStream(() => clock);
  s.add(10);
  s.deliver("dead", 6, 1, clock - 60_000); // 1001..1006 delivered to a dead consumer long ago
  // The dead consumer had acknowledged 1001..1003 and checkpointed up to 1002.
  for (const id of ["1001-0", "1002-0", "1003-0"]) s.pel.delete(id);
  const stop = new AbortController();
  const r = recorder("1002-0", stop, 7);
  await createStreamConsumer(options(s, r.handler, { ordered: true })).run(stop.signal);
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
  assert.equal(r.seen.find((d) => d.id === "1004-0")!.deliveries, 2, "claimed: one more delivery");
  assert.deepEqual(s.acked, ["1004-0", "1005-0", "1006-0", "1007-0", "1008-0", "1009-0", "1010-0"]);
  assert.equal(s.pel.size, 0);
  assert.equal(r.committed[r.committed.length - 1], "1010-0");
});

Deno.test("createStreamConsumer() counts a restart as a delivery of its own pending entries", async () => {
  const s = fakeStream(() => 0);
  s.add(2);
  s.deliver("me", 1, 3); // 1001: pending for me, delivered 3 times before this start
  const stop = new AbortController();
  const r = recorder(null, stop, 2);
  await createStreamConsumer(options(s, r.handler, { ordered: true })).run(stop.signal);
  assert.deepEqual(r.seen.map((d) => [d.id, d.live, d.deliveries]), [
    ["1001-0", true, 4],
    ["1002-0", true, 1],
  ]);
});

Deno.test("createStreamConsumer() stopping with a batch read ahead processes it instead of leaving it pending", async () => {
  const s = fakeStream(() => 0);
  s.add(25); // a backlog: batches of 10 are read one ahead
  const stop = new AbortController();
  const r = recorder(null, stop, 10); // stop right after the first batch
  await createStreamConsumer(options(s, r.handler, { batchSize: 10 })).run(stop.signal);
  assert.equal(r.seen.length, 20, "the batch in hand and the one read ahead");
  assert.equal(s.acked.length, 20);
  assert.equal(s.pel.size, 0, "nothing left pending for another consumer to claim");
});

Deno.test("createStreamConsumer() ordered: waits until another consumer's pending entries are idle long enough", async () => {
  let clock = 0;
  const s = fakeStream(() => clock);
  s.add(2);
  s.deliver("other", 2, 1, 0);
  const stop = new AbortController();
  const r = recorder(null, stop, 2);
  const timer = setInterval(() => (clock += 400), 50);
  try {
    await createStreamConsumer(options(s, r.handler, { ordered: true, claimIdleMs: 1000 }))
      .run(stop.signal);
  } finally {
    clearInterval(timer);
  }
  assert.ok(clock >= 1000, "claimed only after the idle time");
  assert.deepEqual(r.seen.map((d) => [d.id, d.live]), [["1001-0", true], ["1002-0", true]]);
});

Deno.test("createStreamConsumer() without replay: own pending entries first, then claims others' idle ones while running", async () => {
  let clock = 0;
  const s = fakeStream(() => clock);
  s.add(3);
  s.deliver("me", 1, 2); // 1001: mine, pending (re-read: delivery 3)
  s.deliver("other", 1, 1, 0); // 1002: another consumer's, not idle yet
  const stop = new AbortController();
  const r = recorder(undefined, stop, 3);
  const timer = setInterval(() => (clock += 300), 20);
  try {
    await createStreamConsumer(options(s, r.handler, { claimIdleMs: 1000 })).run(stop.signal);
  } finally {
    clearInterval(timer);
  }
  assert.deepEqual(r.seen.map((d) => [d.id, d.deliveries]), [
    ["1001-0", 3],
    ["1003-0", 1],
    ["1002-0", 2], // claimed once idle for claimIdleMs
  ]);
  assert.equal(s.pel.size, 0);
});

Deno.test("createStreamConsumer() dead-letters an entry delivered more than maxDeliveries times without processing it", async () => {
  const s = fakeStream(() => 1_000_000);
  s.add(3);
  s.deliver("me", 1, 5); // 1001: delivered 5 times already (re-read now: 6)
  const stop = new AbortController();
  const r = recorder(null, stop, 2);
  await createStreamConsumer(options(s, r.handler, { maxDeliveries: 5 })).run(stop.signal);
  assert.deepEqual(r.seen.map((d) => d.id), ["1002-0", "1003-0"]);
  assert.equal(s.dead.length, 1);
  assert.equal(s.dead[0]!.id, "1001-0");
  assert.match(s.dead[0]!.reason, /delivered 6 times/);
  assert.ok(s.acked.includes("1001-0"));
});

Deno.test("createStreamConsumer() acknowledges nothing when a handler that cannot re-run fails", async () => {
  const s = fakeStream(() => 0);
  s.add(3);
  const handler: BatchHandler = {
    restore: () => Promise.resolve(null),
    process: () => Promise.reject(new Error("Cannot store: boom")),
  };
  await assert.rejects(
    createStreamConsumer(options(s, handler)).run(new AbortController().signal),
    /boom/,
  );
  assert.deepEqual(s.acked, []);
  assert.equal(s.pel.size, 3, "still pending: redelivered after a restart");
});

Deno.test("createStreamConsumer() re-runnable: isolates the entry that fails for good, dead-letters it, acknowledges the rest", async () => {
  const s = fakeStream(() => 0);
  s.add(8);
  const stop = new AbortController();
  const stored: string[] = [];
  let calls = 0;
  const handler: BatchHandler = {
    process(batch) {
      calls++;
      // Like a multi-row INSERT: one bad row fails the whole statement.
      if (batch.some((d) => d.id === "1006-0")) {
        return Promise.reject(Object.assign(new Error("invalid byte sequence"), { code: "22021" }));
      }
      stored.push(...batch.map((d) => d.id));
      if (stored.length >= 7) queueMicrotask(() => stop.abort());
      return Promise.resolve([]);
    },
  };
  await createStreamConsumer(options(s, handler, {
    rerunnable: true,
    isPermanent: (e) => (e as { code?: string }).code === "22021",
    maxAttempts: 2,
    backoff: { baseMs: 1, capMs: 2 },
  })).run(stop.signal);
  assert.deepEqual(stored.sort(), [
    "1001-0",
    "1002-0",
    "1003-0",
    "1004-0",
    "1005-0",
    "1007-0",
    "1008-0",
  ]);
  assert.deepEqual(s.dead.map((d) => d.id), ["1006-0"]);
  assert.match(s.dead[0]!.reason, /processing failed 2 times: invalid byte sequence/);
  assert.equal(s.pel.size, 0, "everything acknowledged");
  assert.ok(calls <= 2 * 4 + 4, `found by halving, not one entry at a time (${calls} calls)`);
});

Deno.test("createStreamConsumer() re-runnable: a transient failure is retried, never dead-lettered, and the consumer reports being stuck", async () => {
  let clock = 0;
  const s = fakeStream(() => clock);
  s.add(2);
  const stop = new AbortController();
  let failures = 0;
  let sawStuck = false;
  const details = new Set<string>();
  const handler: BatchHandler = {
    process() {
      clock += 1000;
      if (failures++ < 5) {
        sawStuck ||= consumer.status().stuck;
        details.add(consumer.status().detail);
        return Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:5432"));
      }
      queueMicrotask(() => stop.abort());
      return Promise.resolve([]);
    },
  };
  const consumer = createStreamConsumer(options(s, handler, {
    rerunnable: true,
    isPermanent: () => false,
    maxAttempts: 1,
    backoff: { baseMs: 1, capMs: 2 },
    stuckAfterMs: 2500,
    now: () => clock,
  }));
  await consumer.run(stop.signal);
  assert.equal(failures, 6);
  assert.equal(s.dead.length, 0);
  assert.equal(s.pel.size, 0);
  assert.ok(sawStuck, "stuck while failing for longer than stuckAfterMs");
  assert.deepEqual([...details], [
    "ok",
    "stuck: no progress for 3 s (connect ECONNREFUSED 127.0.0.1:5432)",
    "stuck: no progress for 4 s (connect ECONNREFUSED 127.0.0.1:5432)",
    "stuck: no progress for 5 s (connect ECONNREFUSED 127.0.0.1:5432)",
  ]);
  assert.equal(consumer.status().stuck, false, "not stuck once it progressed");
});

Deno.test("compareIds() orders stream ids numerically", () => {
  assert.equal(compareIds("9-0", "10-0"), -1);
  assert.equal(compareIds("10-2", "10-10"), -1);
  assert.equal(compareIds("10-1", "10-1"), 0);
  assert.equal(compareIds("11-0", "10-99"), 1);
});

Deno.test("createStreamConsumer() reads nothing more once beforeRead says it may not (a lease lost)", async () => {
  // A detector that stalled past its lease read a batch ahead after another instance took the
  // partition over: those entries stayed pending for nobody to process.
  const s = fakeStream(() => 0);
  s.add(25);
  const stop = new AbortController();
  const r = recorder(null, stop, 1000);
  let reads = 0;
  const beforeRead = () => {
    if (++reads > 1) {
      stop.abort(); // as the detector's fence does (onLost) before it rejects
      return Promise.reject(new Error("lease lost"));
    }
    return Promise.resolve();
  };
  const bound = setTimeout(() => stop.abort(), 2000); // ends the run even if reads go on
  await createStreamConsumer(options(s, r.handler, { batchSize: 10, ordered: true, beforeRead }))
    .run(stop.signal);
  clearTimeout(bound);
  assert.equal(r.seen.length, 10, "the batch read while the lease was held");
  assert.equal(s.pel.size, 0, "no entry read after the lease was lost");
});

Deno.test("createStreamConsumer() re-runnable: a batch failing through an outage logs its first three retries, then one a minute", async () => {
  // PostgreSQL down for 10 minutes under the notifier: the batch is retried every few seconds.
  let clock = 0;
  const s = fakeStream(() => clock);
  s.add(1);
  const stop = new AbortController();
  const lines: { level: string; msg: string; attempt?: number; permanent?: boolean }[] = [];
  const log = createLogger({
    service: "test",
    level: "debug",
    write: (l) => lines.push(JSON.parse(l)),
  });
  let failures = 0;
  const handler: BatchHandler = {
    process() {
      if (failures++ < 120) {
        clock += 5000;
        return Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:5432"));
      }
      queueMicrotask(() => stop.abort());
      return Promise.resolve([]);
    },
  };
  await createStreamConsumer(options(s, handler, {
    log,
    rerunnable: true,
    backoff: { baseMs: 1, capMs: 2 },
    now: () => clock,
  })).run(stop.signal);
  assert.equal(s.pel.size, 0, "acknowledged once PostgreSQL is back");
  const retries = lines.filter((l) => l.msg === "cannot process batch, retrying");
  assert.equal(retries.length, 120, "every attempt is logged");
  const warned = retries.filter((l) => l.level === "warn");
  assert.deepEqual(warned.map((l) => l.attempt), [1, 2, 3, 15, 27, 39, 51, 63, 75, 87, 99, 111]);
  assert.ok(warned.every((l) => l.permanent === false));
});

Deno.test("createStreamConsumer() claiming others' entries after a slow batch does not take back the batch read ahead", async () => {
  // Before: the first batch took longer than claimIdleMs (PostgreSQL hanging), so the batch
  // read ahead meanwhile was idle that long too; XAUTOCLAIM, which cannot filter by owner,
  // handed it back to this consumer, which processed it, then processed it again as read ahead
  // (counted twice in onAck.live).
  let clock = 0;
  const s = fakeStream(() => clock);
  s.add(25); // a backlog: batches of 10 are read one ahead
  const stop = new AbortController();
  const seen: string[] = [];
  let acked = 0;
  const handler: BatchHandler = {
    async process(batch) {
      if (seen.length === 0) {
        // The first batch hangs past claimIdleMs while the next one is read ahead.
        await new Promise((r) => setTimeout(r, 10));
        clock += 40_000;
      }
      seen.push(...batch.map((d) => d.id));
      if (seen.length >= 25) queueMicrotask(() => stop.abort());
      return [];
    },
  };
  await createStreamConsumer(options(s, handler, {
    batchSize: 10,
    now: () => clock,
    onAck: ({ live }) => (acked += live),
  })).run(stop.signal);
  const ids = Array.from({ length: 25 }, (_, i) => `${1001 + i}-0`);
  assert.deepEqual(seen, ids, "each entry once, in stream order");
  assert.equal(acked, 25);
  assert.equal(s.pel.size, 0);
});

for (const resent of [false, true]) {
  Deno.test(
    `createStreamConsumer() ordered: entries delivered by a read whose reply was lost are processed, in order (${
      resent ? "ioredis re-sends the read" : "the read is retried"
    })`,
    async () => {
      // Redis answered an XREADGROUP > (its entries now pending for this consumer) but the reply
      // never arrived (connection reset; ioredis re-sends the command on reconnect, or the read is
      // retried): the next read returned the entries after them. Before, they stayed pending for
      // nobody until a restart, whose replay then acknowledged them unprocessed as "covered by the
      // checkpoint" (the checkpoint had moved past them): events lost, anomalies never raised.
      const s = fakeStream(() => 0);
      s.add(30);
      const read = s.port.readGroup;
      let lost = 0;
      const port: StreamPort = {
        ...s.port,
        async readGroup(stream, group, consumer, o) {
          const got = await read(stream, group, consumer, o);
          if (o.id === ">" && got.length > 0 && got[0]!.id === "1011-0" && lost++ === 0) {
            if (resent) return await read(stream, group, consumer, o); // the answer of the resend
            throw new Error("Connection is closed."); // delivered by Redis, reply lost
          }
          return got;
        },
      };
      const stop = new AbortController();
      const r = recorder(null, stop, 30);
      const bound = setTimeout(() => stop.abort(), 2000);
      await createStreamConsumer({
        ...options(s, r.handler, {
          ordered: true,
          batchSize: 10,
          backoff: { baseMs: 1, capMs: 2 },
        }),
        port,
      }).run(stop.signal);
      clearTimeout(bound);
      assert.equal(lost, 1);
      const ids = Array.from({ length: 30 }, (_, i) => `${1001 + i}-0`);
      assert.deepEqual(r.seen.map((d) => d.id), ids, "every entry once, in stream order");
      assert.equal(s.pel.size, 0, "nothing left pending");
      assert.deepEqual(
        r.committed,
        [...r.committed].sort(compareIds),
        "checkpoint ids only move on",
      );
    },
  );
}

for (const during of ["lastDeliveredId", "pending"] as const) {
  Deno.test(`createStreamConsumer() replay: an entry delivered to this consumer name while the replay starts is processed once, for real (during ${during})`, async () => {
    // A stale instance of the same unit (its lease lost, its read retried) was delivered an entry
    // between the replay's read of the pending entries and of the group's last-delivered id: the
    // replay took it for acknowledged (state only) and it stayed pending, processed by nobody.
    const s = fakeStream(() => 0);
    s.add(5);
    s.deliver("me", 2); // 1001, 1002 pending from before the restart
    for (const id of ["1001-0", "1002-0"]) s.pel.delete(id); // … acknowledged
    const { pending, lastDeliveredId } = s.port;
    let stale = false, calls = 0;
    const staleRead = () => {
      stale = true;
      s.deliver("me", 1); // 1003, read by the stale instance
    };
    const port: StreamPort = {
      ...s.port,
      async pending(stream, group, o) {
        const got = await pending(stream, group, o);
        // The first read of the whole list waits for others' entries; the second is the replay's.
        if (during === "pending" && o.consumer === undefined && ++calls === 2) staleRead();
        return got;
      },
      async lastDeliveredId(stream, group) {
        const got = await lastDeliveredId(stream, group);
        if (during === "lastDeliveredId") staleRead();
        return got;
      },
    };
    const stop = new AbortController();
    const r = recorder("1002-0", stop, 3);
    const bound = setTimeout(() => stop.abort(), 2000);
    await createStreamConsumer({ ...options(s, r.handler, { ordered: true }), port }).run(
      stop.signal,
    );
    clearTimeout(bound);
    assert.ok(stale);
    assert.deepEqual(r.seen.map((d) => [d.id, d.live]), [
      ["1003-0", true],
      ["1004-0", true],
      ["1005-0", true],
    ]);
    assert.equal(s.pel.size, 0);
  });
}
