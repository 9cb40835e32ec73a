import assert from "node:assert/strict";
import { parseEvent } from "@vigil/shared/schemas/event";
import type { ProducedMessage } from "./generator.ts";
import { parseReplayCsv, REPLAY_HEADER, replayMessages, type ReplayOptions } from "./replay.ts";

async function withCsv<T>(text: string, fn: (path: string) => Promise<T>): Promise<T> {
  const path = await Deno.makeTempFile({ suffix: ".csv" });
  try {
    await Deno.writeTextFile(path, text);
    return await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

/** A fake clock whose sleep advances it, recording every wait. */
function fakeClock(start = 1_000_000) {
  let t = start;
  const waits: number[] = [];
  return {
    waits,
    now: () => t,
    sleep: (ms: number) => {
      waits.push(ms);
      t += ms;
      return Promise.resolve();
    },
  };
}

async function collect(
  text: string,
  options: ReplayOptions,
): Promise<{ batches: ProducedMessage[][]; all: ProducedMessage[] }> {
  const batches: ProducedMessage[][] = [];
  for await (const b of replayMessages(parseReplayCsv(text), options)) batches.push(b);
  return { batches, all: batches.flat() };
}

const NAB = `timestamp,value
2014-02-14 14:30:00,51.846
2014-02-14 14:35:00,44.508
2014-02-14 14:40:00,141.5
2014-02-14 14:45:00,-3
`;

Deno.test("parseReplayCsv() reads a NAB timestamp,value file from disk", async () => {
  await withCsv(NAB, async (path) => {
    const data = parseReplayCsv(await Deno.readTextFile(path));
    assert.equal(data.kind, "value");
    assert.equal(data.rows.length, 4);
    assert.deepEqual(data.rows[0], { ts: Date.UTC(2014, 1, 14, 14, 30), value: 51.846 });
  });
});

Deno.test("parseReplayCsv() reads timestamp,status,count and sorts rows by time", () => {
  const data = parseReplayCsv(
    "timestamp,status,count\r\n2024-01-01T00:01:00Z,denied,2\r\n2024-01-01T00:00:00Z,approved,3\r\n",
  );
  assert.equal(data.kind, "status");
  assert.deepEqual(data.rows.map((r) => [r.status, r.count]), [["approved", 3], ["denied", 2]]);
});

Deno.test("parseReplayCsv() rejects bad input with the line number", async (t) => {
  const cases: [string, RegExp][] = [
    ["", /empty/],
    ["time,val\n1,2\n", /header "time,val"/],
    ["timestamp,value\n2014-02-14 14:30:00,abc\n", /line 2: value "abc"/],
    ["timestamp,value\nyesterday,1\n", /line 2: bad timestamp/],
    ["timestamp,value\n2014-02-14 14:30:00,1,2\n", /line 2: expected 2 columns/],
    ["timestamp,status,count\n2024-01-01T00:00:00Z,lost,1\n", /line 2: unknown status "lost"/],
    ["timestamp,status,count\n2024-01-01T00:00:00Z,denied,1.5\n", /line 2: count "1.5"/],
    // A huge cell is quoted by its first 40 characters, not whole into the log line.
    [`timestamp,value\n2014-02-14 14:30:00,${"9".repeat(200_000)}\n`, /value "9{40}…" is not/],
  ];
  for (const [text, re] of cases) {
    await t.step(re.source, () => {
      assert.throws(
        () => parseReplayCsv(text),
        (e: unknown) => e instanceof SyntaxError && re.test(e.message),
      );
    });
  }
});

Deno.test("replayMessages() divides inter-event time by the speed; no event is stamped after it is sent", async () => {
  const clock = fakeClock();
  const { batches, all } = await collect(NAB, { speed: 60, service: "ec2", ...clock });
  // 5 minutes of data between rows at speed 60 = 5 s of wall time.
  assert.deepEqual(clock.waits, [5000, 5000, 5000]);
  assert.equal(batches.length, 4);
  const events = all.map((m) => JSON.parse(m.value));
  // Data timestamps keep their spacing, shifted so the last is stamped when it
  // is sent (15 s after the start): a time ahead of arrival is a wrong clock.
  assert.deepEqual(events.map((e) => Date.parse(e.timestamp) - 1_000_000), [
    -885_000,
    -585_000,
    -285_000,
    15_000,
  ]);
  assert.deepEqual(events.map((e) => e.cpu), [51.846, 44.508, 100, 0]);
  for (const m of all) {
    assert.equal(m.topic, "metrics");
    assert.equal(m.key, "ec2");
    assert.equal(m.headers[REPLAY_HEADER], "replay");
    assert.match(m.headers.traceparent!, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const parsed = parseEvent("metrics", JSON.parse(m.value));
    assert.ok(parsed.ok);
    // Only the replayed field carries data; latency_ms, required, is a flat 0.
    assert.equal(parsed.event.latency_ms, 0);
  }
});

Deno.test("replayMessages() with timestamps 'emit' stamps the send time", async () => {
  const clock = fakeClock();
  const { all } = await collect(NAB, { speed: 60, timestamps: "emit", ...clock });
  assert.deepEqual(
    all.map((m) => Date.parse(JSON.parse(m.value).timestamp) - 1_000_000),
    [0, 5000, 10_000, 15_000],
  );
});

Deno.test("replayMessages() puts the value in latency_ms with field latency_ms", async () => {
  const { all } = await collect(NAB, { speed: "max", field: "latency_ms", ...fakeClock() });
  const events = all.map((m) => JSON.parse(m.value));
  assert.deepEqual(events.map((e) => e.latency_ms), [51.846, 44.508, 141.5, 0]);
  for (const e of events) assert.equal("cpu" in e, false, "cpu is optional: left out");
});

Deno.test("replayMessages() at speed max never sleeps and respects maxBatch", async () => {
  const clock = fakeClock();
  const text = "timestamp,value\n" +
    Array.from({ length: 1200 }, (_, i) => `${1_700_000_000 + i * 60},${i % 100}`).join("\n");
  const { batches, all } = await collect(text, { speed: "max", maxBatch: 500, ...clock });
  assert.deepEqual(clock.waits, []);
  assert.deepEqual(batches.map((b) => b.length), [500, 500, 200]);
  assert.equal(all.length, 1200);
});

Deno.test("replayMessages() expands per-minute status counts into transactions", async () => {
  const clock = fakeClock(Date.UTC(2025, 0, 1));
  const csv = "timestamp,status,count\n" +
    "2024-01-01T00:00:00Z,approved,4\n2024-01-01T00:00:00Z,denied,2\n2024-01-01T00:01:00Z,approved,3\n";
  const { all } = await collect(csv, { speed: 60, ...clock });
  assert.equal(all.length, 9);
  const events = all.map((m) => {
    const p = parseEvent("transactions", JSON.parse(m.value));
    assert.ok(p.ok);
    assert.equal(m.key, p.event.user_id);
    return p.event;
  });
  // Shifted by whole minutes, the first transaction at the start of its minute.
  const first = Date.parse(events[0]!.timestamp);
  assert.equal(first % 60_000, 0);
  const minuteOf = (e: { timestamp: string }) =>
    Math.floor((Date.parse(e.timestamp) - first) / 60_000);
  const count = (minute: number, status: string) =>
    events.filter((e) => minuteOf(e) === minute && e.status === status).length;
  assert.deepEqual([count(0, "approved"), count(0, "denied"), count(1, "approved")], [4, 2, 3]);
  // Each transaction has its own user; timestamps are non-decreasing.
  assert.equal(new Set(events.map((e) => e.user_id)).size, 9);
  const ts = events.map((e) => Date.parse(e.timestamp));
  assert.deepEqual(ts, [...ts].sort((a, b) => a - b));
  // The last transaction is 100 s of data after the first (00:01:40): 100/60 s at speed 60.
  assert.equal(clock.waits.reduce((a, b) => a + b, 0), Math.ceil(100_000 / 60));
  // None is stamped after the moment it was sent.
  assert.ok(ts.at(-1)! <= clock.now(), `${ts.at(-1)} > ${clock.now()}`);
});

Deno.test("replayMessages() stops when the signal aborts", async () => {
  const controller = new AbortController();
  const sleep = (_ms: number, signal?: AbortSignal) =>
    new Promise<void>((_, reject) => {
      controller.abort(new Error("stop"));
      reject(signal?.reason);
    });
  const got: ProducedMessage[][] = [];
  for await (
    const b of replayMessages(parseReplayCsv(NAB), { speed: 1, sleep }, controller.signal)
  ) {
    got.push(b);
  }
  assert.equal(got.length, 1);
});

Deno.test("replayMessages() rejects a non-positive speed", async () => {
  await assert.rejects(() => collect(NAB, { speed: 0 }), RangeError);
});
