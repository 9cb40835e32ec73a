import assert from "node:assert/strict";
import { parseEvent } from "@vigil/shared/schemas/event";
import type { ProducedMessage } from "./scenario_types.ts";
import { openReplay } from "./replay_source.ts";
import { REPLAY_HEADER, replayMessages, type ReplayOptions } from "./replay.ts";
import { parseReplayCsv, withCsv } from "@vigil/tools/testing/csv";

const DOC = await Deno.readTextFile(new URL("../docs/events.md", import.meta.url));

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
    assert.deepEqual(data.rows[0], { ts: Date.UTC(2014, 1, 14, 14, 30), value: 51.846, line: 2 });
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
    // Before: a header alone replayed nothing and the producer exited 0, as if it had worked.
    ["timestamp,value\n", /header but no rows/],
    ["timestamp,status,count\r\n\r\n", /header but no rows/],
    ["timestamp,status,amount\n", /header but no rows/],
    ["time,val\n1,2\n", /header "time,val"/],
    // Number() reads hexadecimal and binary: "0x10" was replayed as 16.
    ["timestamp,value\n2014-02-14 14:30:00,0x10\n", /line 2: value "0x10" is not a number/],
    ["timestamp,status,count\n2024-01-01T00:00:00Z,denied,0b11\n", /line 2: count "0b11"/],
    ["timestamp,status,amount\n2024-01-01T00:00:00Z,denied,0x10\n", /line 2: amount "0x10"/],
    // Which of two status columns? Before: the first, silently.
    [
      "timestamp,status,amount,status\n2024-01-01T00:00:00Z,approved,5,failed\n",
      /header: column "status" appears twice/,
    ],
    // A spreadsheet's `;` or tab export: say what the separator must be.
    ["timestamp;value\n2014-02-14 14:30:00;1\n", /separated by commas, not ; or tabs/],
    ["timestamp,value\n2014-02-14 14:30:00,abc\n", /line 2: value "abc"/],
    ["timestamp,value\nyesterday,1\n", /line 2: bad timestamp/],
    ["timestamp,value\n2014-02-14 14:30:00,1,2\n", /line 2: expected 2 columns/],
    ["timestamp,status,count\n2024-01-01T00:00:00Z,lost,1\n", /line 2: unknown status "lost"/],
    // ASCII case only, as the schema: the Kelvin sign is not a k.
    [
      "timestamp,status,count\n2024-01-01T00:00:00Z,bac\u212Aend_reversed,1\n",
      /line 2: unknown status/,
    ],
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

Deno.test("replayMessages() at a tiny speed waits in steps a timer can hold (no 1 ms spin)", async () => {
  const controller = new AbortController();
  const waits: number[] = [];
  const sleep = (ms: number, signal?: AbortSignal) => {
    waits.push(ms);
    if (waits.length === 2) controller.abort(new Error("stop"));
    return signal?.aborted ? Promise.reject(signal.reason) : Promise.resolve();
  };
  let t = 0;
  const now = () => (t += 1); // the clock barely moves: a long wait must not be cut to 1 ms
  const got: ProducedMessage[][] = [];
  for await (
    const b of replayMessages(parseReplayCsv(NAB), { speed: 1e-6, sleep, now }, controller.signal)
  ) {
    got.push(b);
  }
  assert.equal(got.length, 1);
  // 5 minutes of data at speed 1e-6 is 3e11 ms; setTimeout holds at most 2^31 - 1 ms, and
  // a longer delay fires after 1 ms (TimeoutOverflowWarning), so the replay spun.
  assert.ok(waits.length > 0 && waits.every((ms) => ms <= 2 ** 31 - 1), JSON.stringify(waits));
});

Deno.test("replayMessages() rejects a non-positive speed", async () => {
  await assert.rejects(() => collect(NAB, { speed: 0 }), RangeError);
});

Deno.test("parseReplayCsv() refuses a per-minute count that is empty or above 1,000,000, with its line", async (t) => {
  const ok = parseReplayCsv("timestamp,status,count\n2024-01-01T00:00:00Z,approved,1000000\n");
  assert.equal(ok.kind === "status" && ok.rows[0]!.count, 1_000_000);
  const cases: [string, RegExp][] = [
    // Once built as one array of every event of the minute: "Fatal JavaScript out of memory".
    [
      "2024-01-01T00:00:00Z,approved,3\n2024-01-01T00:01:00Z,approved,100000000\n",
      /line 3: count "100000000" is not a whole number from 0 to 1000000/,
    ],
    ["2024-01-01T00:00:00Z,denied,1000001\n", /line 2: count "1000001" is not a whole number/],
    // Number("") is 0: an empty cell was read as a count of 0.
    ["2024-01-01T00:00:00Z,denied,\n", /line 2: count "" is not a whole number/],
    ['2024-01-01T00:00:00Z,denied," "\n', /line 2: count "" is not a whole number/],
  ];
  for (const [rows, re] of cases) {
    await t.step(re.source, () => {
      assert.throws(
        () => parseReplayCsv(`timestamp,status,count\n${rows}`),
        (e: unknown) => e instanceof SyntaxError && re.test(e.message),
      );
    });
  }
  // The bound is the one docs/events.md states.
  assert.match(DOC, /`count` is a whole number from 0 to 1,000,000/);
});

Deno.test("replayMessages() makes per-minute transactions one at a time, never a minute's worth in memory", async () => {
  // Three rows of a million in one minute: the first batch needs 100 of them, not 3,000,000.
  const data = parseReplayCsv(
    "timestamp,status,count\n" +
      ["approved", "denied", "failed"].map((s) => `2024-01-01T00:00:00Z,${s},1000000`).join("\n"),
  );
  const before = Deno.memoryUsage().heapUsed;
  const replay = replayMessages(data, {
    speed: "max",
    maxBatch: 100,
    now: () => Date.UTC(2025, 0, 1),
  });
  const first = await replay.next();
  const grown = Deno.memoryUsage().heapUsed - before;
  await replay.return(undefined);
  assert.ok(!first.done);
  const events = first.value.map((m) => JSON.parse(m.value));
  assert.equal(events.length, 100);
  // The rows interleave: a million in 60 s is 17 in the first millisecond of each, in row order.
  const first51 = events.slice(0, 51);
  assert.deepEqual(first51.map((e) => e.status), [
    ...Array(17).fill("approved"),
    ...Array(17).fill("denied"),
    ...Array(17).fill("failed"),
  ]);
  assert.equal(new Set(first51.map((e) => e.timestamp)).size, 1);
  assert.notEqual(events[51].timestamp, events[0].timestamp);
  assert.ok(grown < 64 * 2 ** 20, `the heap grew by ${(grown / 2 ** 20).toFixed(0)} MiB`);
});

Deno.test("replayMessages() spreads a per-minute row over the minute its time falls in", async () => {
  // Rows stamped inside their minute (13:00:30 counts 13:00): none spills into the next minute.
  const csv = "timestamp,status,count\n" +
    "2024-01-01T13:00:30Z,approved,4\n2024-01-01T13:00:45Z,denied,2\n2024-01-01T13:01:59Z,failed,1\n";
  const clock = fakeClock(Date.UTC(2025, 0, 1, 12, 0, 17));
  const { all } = await collect(csv, { speed: 60, ...clock });
  const events = all.map((m) => JSON.parse(m.value));
  const ts = events.map((e) => Date.parse(e.timestamp));
  // Shifted by whole minutes: the offsets from the first minute's start are the file's.
  const minute0 = Math.floor(ts[0]! / 60_000) * 60_000;
  assert.deepEqual(
    events.map((e, i) => [ts[i]! - minute0, e.status]),
    [
      [0, "approved"],
      [0, "denied"],
      [15_000, "approved"],
      [30_000, "approved"],
      [30_000, "denied"],
      [45_000, "approved"],
      [60_000, "failed"],
    ],
  );
  // Paced by the same times: the last is 60 s of data after the first, 1 s at speed 60.
  assert.equal(clock.waits.reduce((a, b) => a + b, 0), 1000);
  assert.ok(ts.at(-1)! <= clock.now());
});

const LATENCY = "timestamp,value\n2014-02-14 14:30:00,51\n2014-02-14 14:35:00,90000000\n";

Deno.test("parseReplayCsv() told the field refuses a reading the metric schema refuses, with its line", async () => {
  const refused = (e: unknown) =>
    e instanceof SyntaxError &&
    /line 3: value 90000000 is not a valid latency_ms \(latency_ms: Too big: expected number to be <=86400000\)/
      .test(e.message);
  assert.throws(() => parseReplayCsv(LATENCY, { field: "latency_ms" }), refused);
  await withCsv(
    LATENCY,
    (path) => assert.rejects(() => openReplay(path, { field: "latency_ms" }), refused),
  );
  // As cpu the value is clamped to 100: a valid reading; so is the latency bound itself.
  assert.equal(parseReplayCsv(LATENCY, { field: "cpu" }).rows.length, 2);
  assert.equal(
    parseReplayCsv(LATENCY.replace("90000000", "86400000"), { field: "latency_ms" }).rows.length,
    2,
  );
  assert.throws(
    () => parseReplayCsv(NAB, { field: "cpu", service: "a\u0001b" }),
    /service "a\\u0001b": control character U\+0001 at position 1 is not allowed/,
  );
});

Deno.test("replayMessages() refuses a reading invalid for its field before sending anything", async () => {
  // Parsed without the field, the readings are checked as the replay starts.
  const data = parseReplayCsv(LATENCY);
  const sent: ProducedMessage[][] = [];
  const replay = async (options: ReplayOptions) => {
    for await (const b of replayMessages(data, { speed: "max", ...options, ...fakeClock() })) {
      sent.push(b);
    }
  };
  await assert.rejects(
    () => replay({ field: "latency_ms" }),
    (e: unknown) =>
      e instanceof SyntaxError &&
      /line 3: value 90000000 is not a valid latency_ms/.test(e.message),
  );
  await assert.rejects(() => replay({ service: "a\u0001b" }), RangeError);
  assert.equal(sent.length, 0);
  // The same readings as cpu are sent, clamped.
  await replay({ field: "cpu" });
  assert.deepEqual(sent.flat().map((m) => JSON.parse(m.value).cpu), [51, 100]);
});

Deno.test("docs/events.md: the timestamp forms and range it states are the ones a replay file takes", () => {
  const start = DOC.indexOf("_timestamp_ is one of");
  assert.ok(start >= 0, "docs/events.md defines _timestamp_");
  const text = DOC.slice(start, DOC.indexOf("Fields not listed are kept", start));
  const between = (from: string, to: string) => {
    const i = text.indexOf(from);
    assert.ok(i >= 0, `"${from}" in the _timestamp_ definition`);
    return text.slice(i, text.indexOf(to, i));
  };
  const spans = (s: string) => [...s.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
  const accepted = spans(between("Accepted, for example:", "Refused:"));
  const refused = spans(between("Refused:", "\n- "));
  assert.ok(accepted.length >= 5 && refused.length >= 5, `${accepted} / ${refused}`);
  /** The time a replay file's row stamped `cell` is read as. */
  const tsOf = (cell: string) => {
    const data = parseReplayCsv(`timestamp,value\n${cell},1\n`);
    return data.rows[0]!.ts;
  };
  const badTimestamp = (cell: string) => () =>
    assert.throws(() => tsOf(cell), /line 2: bad timestamp/, `${cell} is refused`);
  for (const cell of accepted) assert.ok(Number.isFinite(tsOf(cell)), cell);
  for (const cell of refused) badTimestamp(cell)();
  // No offset is UTC; `±hh:mm` and `±hhmm` are offsets; the fraction is kept to the millisecond.
  assert.equal(tsOf("2025-01-02 03:04:05"), Date.UTC(2025, 0, 2, 3, 4, 5));
  assert.equal(tsOf("2025-01-02T04:04:05.123456+01:00"), Date.UTC(2025, 0, 2, 3, 4, 5, 123));
  assert.equal(tsOf("2025-01-01T22:34:05-0430"), Date.UTC(2025, 0, 2, 3, 4, 5));
  assert.equal(tsOf("1735787045.5"), Date.UTC(2025, 0, 2, 3, 4, 5, 500));
  assert.match(text, /\(`1735787045\.5`\)/);
  // The range, both ends included, and what lies just outside it.
  const range = /between (\S+Z) and (\S+Z) \(both included\)/.exec(text);
  assert.ok(range, "the range is stated");
  const [from, to] = [Date.parse(range[1]!), Date.parse(range[2]!)];
  assert.deepEqual([from, to], [Date.UTC(1970, 0, 1), Date.UTC(2200, 0, 1)]);
  assert.equal(tsOf(range[1]!), from);
  assert.equal(tsOf(range[2]!), to);
  badTimestamp(new Date(from - 1).toISOString())();
  badTimestamp(new Date(to + 1).toISOString())();
  const number = (re: RegExp) => Number(re.exec(text)?.[1]?.replaceAll(",", ""));
  const maxSeconds = number(/epoch seconds 0\s+to ([\d,]+)/);
  const maxMs = number(/epoch milliseconds 10\^10 to ([\d,]+)/);
  assert.equal(tsOf("0"), 0);
  assert.equal(tsOf(String(maxSeconds)), to);
  badTimestamp(String(maxSeconds + 1))();
  assert.equal(tsOf("10000000000"), 1e10, "10^10 and above: milliseconds");
  badTimestamp("9999999999")(); // seconds: the year 2286
  assert.equal(tsOf(String(maxMs)), to);
  badTimestamp(String(maxMs + 1))();
});
