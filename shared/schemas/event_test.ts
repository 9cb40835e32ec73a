import assert from "node:assert/strict";
import {
  EVENT_FIELDS,
  eventTypeOf,
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
    ["missing cpu (the simulator's readings)", { cpu: undefined }, true],
    ["latency Infinity (1e999)", { latency_ms: Infinity }, false],
    ["memory Infinity (1e999)", { memory: Infinity }, false],
    ["missing latency", { latency_ms: undefined }, false],
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
    // Like level, currency and country: a payment system writing APPROVED is not dead-lettered.
    ["status in upper case is lower-cased", { status: "APPROVED" }, true, { status: "approved" }],
    ["status mixed case", { status: "Backend_Reversed" }, true, { status: "backend_reversed" }],
    // Any ASCII case only: the Kelvin sign is not a k.
    ["status with a Kelvin sign", { status: "bac\u212Aend_reversed" }, false],
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
    // ASCII case only: toUpperCase reads the dotless ı as I.
    ["a dotless ı is not an i", "\u0131nfo", undefined],
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

Deno.test("isEventType() tells the three types from the rest", () => {
  assert.equal(isEventType("logs"), true);
  assert.equal(isEventType("alerts"), false);
});

Deno.test("parseEvent() rejects control characters and lone surrogates in identifiers, naming the field", async (t) => {
  const cases: [string, "logs" | "metrics" | "transactions", Record<string, unknown>, RegExp][] = [
    [
      "NUL in a log's user_id",
      "logs",
      { ...log, user_id: "u\u0000" },
      /^user_id: control character U\+0000 at position 1 is not allowed/,
    ],
    [
      "lone low surrogate in a transaction's user_id",
      "transactions",
      { ...tx, user_id: "\udfff" },
      /^user_id: lone surrogate U\+DFFF at position 0/,
    ],
    [
      "lone high surrogate in transaction_id",
      "transactions",
      { ...tx, transaction_id: "t\ud800x" },
      /^transaction_id: lone surrogate U\+D800 at position 1/,
    ],
    [
      "tab inside service",
      "metrics",
      { ...metric, service: "a\tb" },
      /^service: control character U\+0009/,
    ],
    [
      "trailing newline in service",
      "logs",
      { ...log, service: "api\n" },
      /^service: control character U\+000A at position 3/,
    ],
    [
      "ESC in merchant",
      "transactions",
      { ...tx, merchant: "\u001b[31mshop" },
      /^merchant: control character U\+001B at position 0/,
    ],
  ];
  for (const [name, type, value, reason] of cases) {
    await t.step(name, () => {
      const r = parseEvent(type, value);
      assert.ok(!r.ok, name);
      assert.match(r.reason, reason);
    });
  }
  // A valid surrogate pair is text like any other.
  const pair = parseEvent("logs", { ...log, user_id: "u\ud83d\ude00" });
  assert.ok(pair.ok);
});

Deno.test('parseEvent() refuses "." and ".." as an identifier (no URL path can carry them), keeps "..."', () => {
  const refused: ["logs" | "metrics" | "transactions", Record<string, unknown>, string][] = [
    ["metrics", { ...metric, service: "." }, "service"],
    ["logs", { ...log, service: " .. " }, "service"],
    ["logs", { ...log, user_id: ".." }, "user_id"],
    ["transactions", { ...tx, user_id: "." }, "user_id"],
    ["transactions", { ...tx, transaction_id: ".." }, "transaction_id"],
    ["transactions", { ...tx, merchant: "." }, "merchant"],
  ];
  for (const [type, value, field] of refused) {
    const r = parseEvent(type, value);
    assert.ok(!r.ok, JSON.stringify(value));
    assert.match(r.reason, new RegExp(`^${field}: "\\.{1,2}" cannot be an identifier`));
  }
  for (const name of ["...", ".a", "a.", "./", "~"]) {
    assert.ok(parseEvent("metrics", { ...metric, service: name }).ok, name);
  }
});

Deno.test("parseEvent() replaces NUL, other C0 controls and lone surrogates in a message, keeps tab/LF/CR", () => {
  const r = parseEvent("logs", { ...log, message: "a\u0000b\tc\nd\re\u0007f\ud800g\udfff" });
  assert.ok(r.ok);
  assert.equal(r.event.message, "a\ufffdb\tc\nd\re\ufffdf\ufffdg\ufffd");
  const len = parseEvent("logs", { ...log, message: "\u0000".repeat(16_384) });
  assert.ok(len.ok, "the replacement keeps the length");
});

Deno.test("parseEvent() turns numeric ids into strings and refuses ids that lost precision", async (t) => {
  const cases: [string, unknown, string | RegExp][] = [
    ["42", 42, "42"],
    ["0", 0, "0"],
    ["-0", -0, "0"],
    ["2^53-1", 9007199254740991, "9007199254740991"],
    ["2^53 (lost precision)", 9007199254740992, /numeric id must be an integer/],
    ["a huge integer", 123456789012345678901234567890, /numeric id must be an integer/],
    ["negative", -1, /numeric id must be an integer/],
    ["a fraction", 1.5, /numeric id must be an integer/],
    ["a boolean", true, /expected a string or a non-negative integer/],
  ];
  for (const [name, id, expected] of cases) {
    await t.step(name, () => {
      for (const type of ["logs", "transactions"] as const) {
        const base = type === "logs" ? log : tx;
        const r = parseEvent(type, { ...base, user_id: id });
        if (typeof expected === "string") {
          assert.ok(r.ok, type);
          assert.equal(r.event.user_id, expected);
        } else {
          assert.ok(!r.ok, type);
          assert.match(r.reason, expected);
          assert.match(r.reason, /^user_id: /);
        }
      }
    });
  }
  const t2 = parseEvent("transactions", { ...tx, transaction_id: 77 });
  assert.ok(t2.ok);
  assert.equal(t2.event.transaction_id, "77");
});

Deno.test("parseEvent() writes -0 as 0 and refuses non-finite numbers", () => {
  const r = parseEvent("metrics", { ...metric, cpu: -0, latency_ms: -0, error_rate: -0 });
  assert.ok(r.ok);
  assert.ok(Object.is(r.event.cpu, 0) && Object.is(r.event.latency_ms, 0));
  assert.ok(Object.is(r.event.error_rate, 0));
  assert.equal(parseEvent("metrics", { ...metric, cpu: Infinity }).ok, false);
  assert.equal(parseEvent("transactions", { ...tx, amount: Infinity }).ok, false);
});

Deno.test("parseEvent() outputs the known fields in schema order, then the extra ones", () => {
  const r = parseEvent("transactions", {
    channel: "web",
    country: "fr",
    status: "approved",
    amount: 3,
    timestamp: 1714564800,
    currency: "eur",
    user_id: 5,
    transaction_id: "t",
  });
  assert.ok(r.ok);
  assert.deepEqual(Object.keys(r.event), [
    "timestamp",
    "transaction_id",
    "user_id",
    "amount",
    "currency",
    "status",
    "country",
    "channel",
  ]);
  assert.deepEqual(EVENT_FIELDS.metrics, [
    "timestamp",
    "service",
    "cpu",
    "latency_ms",
    "memory",
    "error_rate",
  ]);
});

Deno.test("parseEvent() strips prototype keys and cleans extra fields at every depth", () => {
  const value = JSON.parse(
    '{"timestamp":"2024-05-01T12:00:00.000Z","service":"api","level":"INFO","message":"ok",' +
      '"__proto__":{"polluted":1},"constructor":{"x":1},"prototype":2,' +
      '"tags":{"__proto__":{"y":1},"a":"x\\u0000y","list":[1,-0,{"constructor":3,"b":"\\udc00"}]}}',
  );
  const r = parseEvent("logs", value);
  assert.ok(r.ok, r.ok ? "" : r.reason);
  assert.deepEqual(Object.keys(r.event), ["timestamp", "service", "level", "message", "tags"]);
  assert.deepEqual(r.event.tags, { a: "x\ufffdy", list: [1, 0, { b: "\ufffd" }] });
  assert.equal(Object.getPrototypeOf(r.event), Object.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("parseEvent() bounds extra fields: count, bytes, depth, keys, numbers", async (t) => {
  const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x${i}`, i]));
  const nest = (depth: number): unknown => (depth === 0 ? 1 : { a: nest(depth - 1) });
  const cases: [string, Record<string, unknown>, RegExp | null][] = [
    ["32 extra fields", many(32), null],
    ["33 extra fields", many(33), /^\(root\): more than 32 extra fields/],
    ["8 KiB of extra fields", { x: "a".repeat(8192 - 6) }, null],
    [
      "8 KiB + 1 of extra fields",
      { x: "a".repeat(8192 - 5) },
      /^\(root\): extra fields larger than 8192 bytes/,
    ],
    [
      "multi-byte characters count as their UTF-8 bytes",
      { x: "é".repeat(4094) },
      /larger than 8192 bytes/,
    ],
    ["8 levels of nesting", { deep: nest(8) }, null],
    [
      "9 levels of nesting",
      { deep: nest(9) },
      /^deep\.a\.a\.a\.a\.a\.a\.a\.a: nested deeper than 8 levels/,
    ],
    [
      "9 levels of arrays",
      { deep: [[[[[[[[[1]]]]]]]]] },
      /^deep\.0\.0\.0\.0\.0\.0\.0\.0: nested deeper/,
    ],
    // deno-lint-ignore no-control-regex
    ["a NUL in an extra key", { "a\u0000": 1 }, /^a\u0000: key: control character U\+0000/],
    [
      "a lone surrogate in a nested key",
      { t: { "\ud800": 1 } },
      /^t\.\ud800: key: lone surrogate U\+D800/,
    ],
    ["Infinity (1e999) in an extra field", { t: [Infinity] }, /^t\.0: number out of range/],
  ];
  for (const [name, extra, reason] of cases) {
    await t.step(name, () => {
      const r = parseEvent("metrics", { ...metric, ...extra });
      if (reason === null) assert.ok(r.ok, r.ok ? "" : r.reason);
      else {
        assert.ok(!r.ok, name);
        assert.match(r.reason, reason);
      }
    });
  }
  await t.step("limits are configurable", () => {
    const limits = { maxFields: 2, maxBytes: 100, maxDepth: 1 };
    assert.equal(parseEvent("metrics", { ...metric, ...many(3) }, limits).ok, false);
    assert.equal(parseEvent("metrics", { ...metric, ...many(2) }, limits).ok, true);
    assert.equal(parseEvent("metrics", { ...metric, t: { a: 1 } }, limits).ok, true);
    assert.equal(parseEvent("metrics", { ...metric, t: { a: [1] } }, limits).ok, false);
  });
});

Deno.test("eventTypeOf() reads the simulator's record on logs as a metric, and nothing else", () => {
  const sim = { timestamp: 1714564800, service: "api", latency_ms: 12, error_rate: 0.01 };
  assert.equal(eventTypeOf("logs", sim), "metrics");
  assert.equal(eventTypeOf("logs", { ...sim, level: "INFO" }), "logs");
  assert.equal(eventTypeOf("logs", { ...sim, message: "x" }), "logs");
  assert.equal(eventTypeOf("logs", { ...sim, latency_ms: undefined }), "logs");
  assert.equal(eventTypeOf("logs", { ...sim, service: undefined }), "logs");
  assert.equal(eventTypeOf("metrics", sim), "metrics");
  assert.equal(eventTypeOf("transactions", sim), "transactions");
  assert.equal(eventTypeOf("logs", [sim]), "logs");
  const parsed = parseEvent("metrics", sim);
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.event, {
    timestamp: "2024-05-01T12:00:00.000Z",
    service: "api",
    latency_ms: 12,
    error_rate: 0.01,
  });
});
