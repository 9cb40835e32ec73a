import assert from "node:assert/strict";
import {
  parseEvent,
  TRANSACTION_STATUSES,
  type TransactionStatus,
} from "@vigil/shared/schemas/event";
import { parseReplayCsv } from "@vigil/tools/testing/csv";
import { REPLAY_HEADER, replayMessages } from "./replay.ts";
import type { RawTransaction } from "./replay_transactions.ts";

const SAMPLE = await Deno.readTextFile(
  new URL("./testdata/transactions_raw.csv", import.meta.url),
);
const MINUTE = 60_000;
const DOC = await Deno.readTextFile(new URL("../docs/events.md", import.meta.url));

/** One per-minute count, as a `timestamp,status,count` row. */
interface MinuteCount {
  ts: number;
  status: TransactionStatus;
  count: number;
}

/**
 * The rows grouped per minute (UTC, floor) and status: the series the seed
 * monitored, in the `timestamp,status,count` form, sorted by minute then
 * status order.
 */
function perMinuteStatusCounts(rows: readonly RawTransaction[]): MinuteCount[] {
  const counts = new Map<string, MinuteCount>();
  for (const r of rows) {
    const ts = Math.floor(r.ts / 60_000) * 60_000;
    const key = `${ts}|${r.status}`;
    const c = counts.get(key);
    if (c) c.count++;
    else counts.set(key, { ts, status: r.status, count: 1 });
  }
  const order = (s: TransactionStatus) => TRANSACTION_STATUSES.indexOf(s);
  return [...counts.values()].sort((a, b) => a.ts - b.ts || order(a.status) - order(b.status));
}

function rawRows(text: string): RawTransaction[] {
  const data = parseReplayCsv(text);
  assert.equal(data.kind, "transactions");
  return data.rows as RawTransaction[];
}

Deno.test("parseReplayCsv() reads a raw transaction CSV: one row per transaction, sorted", () => {
  const rows = rawRows(SAMPLE);
  assert.equal(rows.length, 50);
  assert.deepEqual(rows[0], {
    ts: Date.parse("2025-07-12T13:00:11Z"),
    status: "approved",
    amount: 37.5,
    transactionId: "tx-0001",
    userId: "u-2",
    currency: "USD",
    merchant: "shop-2",
    country: "US",
  });
  assert.equal(rows[2]!.userId, undefined, "an empty user_id cell is absent");
  for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1]!.ts <= rows[i]!.ts);
});

Deno.test("parseReplayCsv() raw form: any column order, `time` for timestamp, only the needed columns", () => {
  const rows = rawRows(
    "Amount,Status,Time\n12.5,Failed,1752325200\n3,approved,2025-07-12T13:00:30+02:00\n",
  );
  assert.deepEqual(rows, [
    { ts: Date.parse("2025-07-12T11:00:30Z"), status: "approved", amount: 3 },
    { ts: Date.parse("2025-07-12T13:00:00Z"), status: "failed", amount: 12.5 },
  ]);
});

Deno.test("parseReplayCsv() raw form: a spreadsheet's export, quoted cells with commas and CRLF", () => {
  const rows = rawRows(
    "\uFEFFTimestamp,Status,Amount,Merchant\r\n" +
      '2025-07-12 13:00:11,approved,12.5,"Acme, Inc."\r\n' +
      '2025-07-12 13:00:12,"denied","7","Bob\'s ""Shop"""\r\n',
  );
  assert.deepEqual(rows.map((r) => [r.status, r.amount, r.merchant]), [
    ["approved", 12.5, "Acme, Inc."],
    ["denied", 7, 'Bob\'s "Shop"'],
  ]);
});

Deno.test("parseReplayCsv() raw form: bad rows are refused with their line", async (t) => {
  const cases: [string, RegExp][] = [
    ["timestamp,status,amount\n2025-07-12 13:00:00,lost,5\n", /line 2: unknown status "lost"/],
    ["timestamp,status,amount\n2025-07-12 13:00:00,approved,-5\n", /line 2: amount "-5"/],
    ["timestamp,status,amount\n\nsoon,approved,5\n", /line 3: bad timestamp "soon"/],
    ["timestamp,status,amount\n2025-07-12 13:00:00,approved\n", /line 2: expected 3 columns/],
    ["timestamp,status,total\n1,approved,5\n", /nor raw transactions \(timestamp,status,amount/],
    ["Time,Status,Total\n1,approved,5\n", /header "Time,Status,Total" is not/],
    [
      'timestamp,status,amount\n1,approved,"5\n2,approved,5\n',
      /line 2: a quoted cell is not closed/,
    ],
  ];
  for (const [text, error] of cases) {
    await t.step(error.source, () => assert.throws(() => parseReplayCsv(text), error));
  }
});

Deno.test("perMinuteStatusCounts() groups raw rows per minute and status, as the seed did", () => {
  const counts = perMinuteStatusCounts(rawRows(SAMPLE)).map((c) =>
    `${new Date(c.ts).toISOString().slice(11, 16)} ${c.status} ${c.count}`
  );
  assert.deepEqual(counts, [
    "13:00 approved 11",
    "13:00 denied 1",
    "13:01 approved 8",
    "13:01 denied 2",
    "13:01 reversed 2",
    "13:02 approved 8",
    "13:02 denied 3",
    "13:02 reversed 1",
    "13:03 approved 3",
    "13:03 denied 1",
    "13:03 failed 10",
  ]);
});

Deno.test("replayMessages() sends each raw row as a valid transaction, in the file's minutes", async () => {
  const rows = rawRows(SAMPLE);
  const now = Date.parse("2026-12-04T22:40:37.250Z");
  const sent = [];
  for await (
    const batch of replayMessages(parseReplayCsv(SAMPLE), { speed: "max", now: () => now })
  ) sent.push(...batch);
  assert.equal(sent.length, rows.length);
  const events = sent.map((m) => {
    const parsed = parseEvent("transactions", JSON.parse(m.value));
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.reason);
    assert.equal(m.topic, "transactions");
    assert.equal(m.key, parsed.event.user_id);
    assert.equal(m.headers[REPLAY_HEADER], "replay");
    return parsed.event;
  });
  events.forEach((e, i) => {
    const row = rows[i]!;
    assert.equal(e.status, row.status);
    assert.equal(e.amount, row.amount);
    assert.equal(e.currency, row.currency);
    if (row.userId) assert.equal(e.user_id, row.userId);
    if (row.transactionId) assert.equal(e.transaction_id, row.transactionId);
  });
  // Rows without a user each get their own.
  const fresh = events.filter((_, i) => !rows[i]!.userId).map((e) => e.user_id);
  assert.equal(new Set(fresh).size, fresh.length);
  // Shifted by whole minutes: all are sent now, so the last lands in the
  // minute before now (none after it), and the per-minute status counts of
  // the events are the file's.
  const shift = Date.parse(events[0]!.timestamp) - rows[0]!.ts;
  assert.equal(shift % MINUTE, 0);
  assert.ok(Date.parse(events.at(-1)!.timestamp) <= now);
  assert.ok(Date.parse(events.at(-1)!.timestamp) > now - MINUTE);
  const replayed = perMinuteStatusCounts(events.map((e, i) => ({
    ...rows[i]!,
    ts: Date.parse(e.timestamp) - shift,
  })));
  assert.deepEqual(replayed, perMinuteStatusCounts(rows));
});

Deno.test("replayMessages() paces raw rows by their own times at the given speed", async () => {
  let t = 1_000_000;
  const waits: number[] = [];
  const text = "timestamp,status,amount\n" +
    "2025-07-12 13:00:00,approved,1\n2025-07-12 13:00:30,approved,2\n2025-07-12 13:01:30,failed,3\n";
  const batches = [];
  for await (
    const b of replayMessages(parseReplayCsv(text), {
      speed: 60,
      now: () => t,
      sleep: (ms) => {
        waits.push(ms);
        t += ms;
        return Promise.resolve();
      },
    })
  ) batches.push(b.length);
  assert.deepEqual(batches, [1, 1, 1]);
  assert.deepEqual(waits, [500, 1000], "30 s and 60 s of data at speed 60");
});

const FULL = "timestamp,transaction_id,user_id,amount,currency,status,merchant,country\n" +
  "2025-07-12 13:00:00,tx-1,u-1,5,USD,approved,shop,US\n";

Deno.test("parseReplayCsv() raw form: a row the transaction schema refuses is refused with its line and the schema's reason", async (t) => {
  // Each was copied unchecked, and every event it made was dead-lettered by the bridge.
  const cases: [string, RegExp][] = [
    [
      "2025-07-12 13:00:01,tx\u00012,u-1,5,USD,approved,shop,US",
      /line 3: transaction_id "tx\\u00012": control character U\+0001 at position 2 is not allowed/,
    ],
    [
      `2025-07-12 13:00:01,tx-2,${"u".repeat(129)},5,USD,approved,shop,US`,
      /line 3: user_id "u{40}…": Too big: expected string to have <=128 characters/,
    ],
    [
      "2025-07-12 13:00:01,tx-2,u-1,2e12,USD,approved,shop,US",
      /line 3: amount "2e12": Too big: expected number to be <=1000000000000/,
    ],
    [
      "2025-07-12 13:00:01,tx-2,u-1,5,EURO,approved,shop,US",
      /line 3: currency "EURO": currency must be/,
    ],
    [
      "2025-07-12 13:00:01,tx-2,u-1,5,USD,approved,shop\u0007,US",
      /line 3: merchant "shop\\u0007": control character U\+0007 at position 4 is not allowed/,
    ],
    ["2025-07-12 13:00:01,tx-2,u-1,5,USD,approved,shop,USA", /line 3: country "USA": country must/],
    ["2025-07-12 13:00:01,tx-2,u-1,5,U5D,approved,shop,U2", /currency "U5D": .*; country "U2": /],
    ["1e99,tx-2,u-1,5,USD,approved,shop,US", /line 3: bad timestamp "1e99"/],
  ];
  for (const [row, re] of cases) {
    await t.step(re.source, () => {
      assert.throws(
        () => parseReplayCsv(`${FULL}${row}\n`),
        (e: unknown) => e instanceof SyntaxError && re.test(e.message),
      );
    });
  }
});

Deno.test("parseReplayCsv() raw form: currency and country are any 3 and 2 letters, upper-cased, as docs/events.md says", async () => {
  const rows = rawRows(FULL.replace("USD,approved,shop,US", "xyz,approved,shop,qq"));
  assert.deepEqual([rows[0]!.currency, rows[0]!.country], ["XYZ", "QQ"]);
  const sent = [];
  for await (
    const b of replayMessages(parseReplayCsv(FULL.replace("USD", "xyz")), { speed: "max" })
  ) {
    sent.push(...b);
  }
  const parsed = parseEvent("transactions", JSON.parse(sent[0]!.value));
  assert.ok(parsed.ok);
  assert.equal(parsed.event.currency, "XYZ");
  // docs/events.md claims no closed list: what the schema checks is the letters.
  const docRow = (field: string) => DOC.split("\n").find((l) => l.startsWith(`| \`${field}\``));
  assert.match(docRow("currency") ?? "", /any 3 ASCII letters, any case, stored upper-case/);
  assert.match(docRow("country") ?? "", /any 2 ASCII letters, any case, stored upper-case/);
  for (const field of ["currency", "country"]) {
    assert.match(docRow(field)!, /not checked against that list/);
  }
});
