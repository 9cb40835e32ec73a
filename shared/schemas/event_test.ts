import assert from "node:assert/strict";
import {
  entityOf,
  isEventType,
  logEventSchema,
  metricEventSchema,
  parseEvent,
  timestampSchema,
  TRANSACTION_STATUSES,
  transactionEventSchema,
} from "./event.ts";

const TS = "2024-05-01T12:00:00.000Z";
const metric = { timestamp: TS, service: "api", cpu: 50, latency_ms: 20 };
const log = { timestamp: TS, service: "api", level: "INFO", message: "ok" };
const tx = {
  timestamp: TS,
  transaction_id: "t1",
  user_id: "u1",
  amount: 10,
  currency: "EUR",
  status: "approved",
};

Deno.test("timestampSchema normalises every accepted form to ISO 8601 UTC", async (t) => {
  const cases: [string, string | number, string][] = [
    ["ISO with Z", "2024-05-01T12:00:00Z", TS],
    ["ISO with lowercase z and t", "2024-05-01t12:00:00z", TS],
    ["ISO with +02:00 offset", "2024-05-01T14:00:00+02:00", TS],
    ["ISO with -0530 offset", "2024-05-01T06:30:00-0530", TS],
    ["ISO with milliseconds", "2024-05-01T12:00:00.250Z", "2024-05-01T12:00:00.250Z"],
    [
      "ISO with nanoseconds (truncated to ms)",
      "2024-05-01T12:00:00.123456789Z",
      "2024-05-01T12:00:00.123Z",
    ],
    ["ISO without zone is read as UTC", "2024-05-01T12:00:00", TS],
    ["space separator, no seconds", "2024-05-01 12:00", TS],
    ["surrounding spaces", "  2024-05-01T12:00:00Z ", TS],
    ["epoch seconds", 1714564800, TS],
    ["epoch seconds with fraction", 1714564800.5, "2024-05-01T12:00:00.500Z"],
    ["epoch milliseconds", 1714564800000, TS],
    ["numeric string of seconds", "1714564800", TS],
    ["numeric string of milliseconds", "1714564800000", TS],
    ["epoch 0", 0, "1970-01-01T00:00:00.000Z"],
    ["leap day", "2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000Z"],
  ];
  for (const [name, input, expected] of cases) {
    await t.step(name, () => assert.equal(timestampSchema.parse(input), expected));
  }
});

Deno.test("timestampSchema rejects garbage and out-of-range values with a reason", async (t) => {
  const cases: [string, unknown, RegExp][] = [
    ["garbage", "yesterday", /not an ISO 8601 timestamp/],
    ["empty", "", /not an ISO 8601 timestamp/],
    ["date only", "2024-05-01", /not an ISO 8601 timestamp/],
    ["Feb 30 (would roll over to Mar 1)", "2024-02-30T00:00:00Z", /not a valid date-time/],
    ["Feb 29 in a non-leap year", "2023-02-29T00:00:00Z", /not a valid date-time/],
    ["month 13", "2024-13-01T00:00:00Z", /not a valid date-time/],
    ["hour 25", "2024-05-01T25:00:00Z", /not a valid date-time/],
    ["minute 60", "2024-05-01T12:60:00Z", /not a valid date-time/],
    ["negative epoch", -1, /out of range/],
    ["before 1970", "1969-12-31T23:59:59Z", /out of range/],
    ["after 2200 (ms)", 7_258_118_400_001, /out of range/],
    ["after 2200 (s)", "9999999999", /out of range/],
    ["boolean", true, /./],
    ["null", null, /./],
  ];
  for (const [name, input, reason] of cases) {
    await t.step(name, () => {
      const r = timestampSchema.safeParse(input);
      assert.equal(r.success, false);
      assert.match(r.error!.issues[0]!.message, reason);
    });
  }
});

Deno.test("metricEventSchema enforces cpu 0..100 and latency >= 0", async (t) => {
  const cases: [string, Record<string, unknown>, boolean][] = [
    ["cpu 0", { cpu: 0 }, true],
    ["cpu 100", { cpu: 100 }, true],
    ["cpu 100.01", { cpu: 100.01 }, false],
    ["cpu -1", { cpu: -1 }, false],
    ["cpu as string", { cpu: "50" }, false],
    ["latency 0", { latency_ms: 0 }, true],
    ["latency -1", { latency_ms: -1 }, false],
    ["error_rate 1", { error_rate: 1 }, true],
    ["error_rate 1.5", { error_rate: 1.5 }, false],
    ["memory -1", { memory: -1 }, false],
    ["empty service", { service: "" }, false],
    ["blank service", { service: "   " }, false],
    ["missing cpu", { cpu: undefined }, false],
  ];
  for (const [name, patch, ok] of cases) {
    await t.step(name, () => {
      assert.equal(metricEventSchema.safeParse({ ...metric, ...patch }).success, ok);
    });
  }
});

Deno.test("transactionEventSchema checks amount, currency and status", async (t) => {
  const cases: [string, Record<string, unknown>, boolean, Record<string, unknown>?][] = [
    ["amount 0", { amount: 0 }, false],
    ["amount 0.01", { amount: 0.01 }, true],
    ["amount -5", { amount: -5 }, false],
    ["amount as string", { amount: "10" }, false],
    ["currency lower case is upper-cased", { currency: "usd" }, true, { currency: "USD" }],
    ["currency mixed case", { currency: "gBp" }, true, { currency: "GBP" }],
    ["currency of 2 letters", { currency: "EU" }, false],
    ["currency of 4 letters", { currency: "EURO" }, false],
    ["currency with digits", { currency: "E1R" }, false],
    ["country upper-cased", { country: "fr" }, true, { country: "FR" }],
    ["country of 3 letters", { country: "FRA" }, false],
    ["status reversed", { status: "reversed" }, true],
    ["status backend_reversed", { status: "backend_reversed" }, true],
    ["status unknown", { status: "refunded" }, false],
    ["status in upper case", { status: "APPROVED" }, false],
    ["missing user_id", { user_id: undefined }, false],
  ];
  for (const [name, patch, ok, expected] of cases) {
    await t.step(name, () => {
      const r = transactionEventSchema.safeParse({ ...tx, ...patch });
      assert.equal(r.success, ok, r.success ? "" : JSON.stringify(r.error.issues));
      if (expected) assert.deepEqual({ ...r.data, ...expected }, r.data);
    });
  }
});

Deno.test("transactionEventSchema accepts every listed status", () => {
  for (const status of TRANSACTION_STATUSES) {
    assert.equal(transactionEventSchema.parse({ ...tx, status }).status, status);
  }
});

Deno.test("logEventSchema upper-cases the level and rejects unknown levels", async (t) => {
  const cases: [string, string, string | undefined][] = [
    ["INFO", "INFO", "INFO"],
    ["lower case", "error", "ERROR"],
    ["mixed case", "Warning", "WARNING"],
    ["debug", "debug", "DEBUG"],
    ["WARN is not a level", "WARN", undefined],
    ["FATAL is not a level", "FATAL", undefined],
  ];
  for (const [name, level, expected] of cases) {
    await t.step(name, () => {
      const r = logEventSchema.safeParse({ ...log, level });
      assert.equal(r.success, expected !== undefined);
      if (expected) assert.equal(r.data!.level, expected);
    });
  }
  assert.equal(logEventSchema.safeParse({ ...log, message: "x".repeat(16_385) }).success, false);
  assert.equal(logEventSchema.safeParse({ ...log, message: "" }).success, true);
});

Deno.test("event schemas keep unknown extra fields", () => {
  const r = metricEventSchema.parse({ ...metric, region: "eu-west-1", tags: { a: 1 } });
  assert.equal(r.region, "eu-west-1");
  assert.deepEqual(r.tags, { a: 1 });
  const t = transactionEventSchema.parse({ ...tx, channel: "web" });
  assert.equal(t.channel, "web");
});

Deno.test("parseEvent() returns the normalised event or a readable reason", () => {
  const ok = parseEvent("metrics", { ...metric, timestamp: 1714564800 });
  assert.deepEqual(ok, { ok: true, event: metric });
  const bad = parseEvent("transactions", { ...tx, amount: 0, currency: "euro" });
  assert.equal(bad.ok, false);
  assert.ok(!bad.ok);
  assert.match(bad.reason, /^amount: .*; currency: currency must be an ISO 4217 code$/);
  const root = parseEvent("logs", "not an object");
  assert.ok(!root.ok);
  assert.match(root.reason, /^\(root\): /);
});

Deno.test("isEventType() and entityOf() cover the three types", () => {
  assert.equal(isEventType("logs"), true);
  assert.equal(isEventType("alerts"), false);
  assert.equal(entityOf("transactions", transactionEventSchema.parse(tx)), "u1");
  assert.equal(entityOf("metrics", metricEventSchema.parse(metric)), "api");
  assert.equal(entityOf("logs", logEventSchema.parse(log)), "api");
});
