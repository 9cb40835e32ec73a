import assert from "node:assert/strict";
import { createGenerator, SCENARIOS } from "@vigil/producer/generator";
import type { EventType } from "@vigil/shared/schemas/event";
import { parseEntry, parseEntrySlow, traceIdOf } from "./evaluator.ts";
import { canonicalTime, fastEnvelope, fastEvent } from "./fast_parse.ts";

function fields(data: string, extra: Record<string, string> = {}): string[] {
  const f: Record<string, string> = {
    data,
    topic: "logs",
    partition: "2",
    offset: "41",
    key: "k",
    ingest_ts: "1735689600000",
    traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    ...extra,
  };
  return Object.entries(f).flat();
}

Deno.test("parseEntry() fast path agrees with zod on the generator's traffic and scenarios", () => {
  const gen = createGenerator({ seed: 5, users: 500 });
  const messages = gen.normal(Date.UTC(2025, 0, 1), 3000);
  for (const name of SCENARIOS) messages.push(...gen.scenario(name, Date.UTC(2025, 0, 1)).messages);
  let fast = 0;
  for (const m of messages) {
    const f = fields(m.value, { topic: m.topic });
    if (fastEvent(m.topic, JSON.parse(m.value)) !== null) fast++;
    assert.deepEqual(parseEntry(m.topic, "1-1", f), parseEntrySlow(m.topic, "1-1", f));
  }
  assert.equal(fast, messages.length, "the canonical form always takes the fast path");
});

Deno.test("parseEntry() leaves every non-canonical or invalid input to zod", async (t) => {
  const log = {
    timestamp: "2025-01-01T00:00:00.000Z",
    service: "api",
    level: "ERROR",
    message: "x",
  };
  const tx = {
    timestamp: "2025-01-01T00:00:00.000Z",
    transaction_id: "t1",
    user_id: "u1",
    amount: 5,
    currency: "EUR",
    status: "approved",
  };
  const metric = { timestamp: "2025-01-01T00:00:00.000Z", service: "api", cpu: 5, latency_ms: 9 };
  const cases: [EventType, Record<string, unknown>, boolean][] = [
    // [type, event, valid for zod]
    ["logs", { ...log, level: "error" }, true], // zod upper-cases it
    ["logs", { ...log, service: " api " }, true], // zod trims it
    ["logs", { ...log, timestamp: "2025-01-01T01:00:00+01:00" }, true], // zod normalises it
    ["logs", { ...log, timestamp: 1735689600 }, true], // epoch seconds
    ["logs", { ...log, timestamp: "2025-02-30T00:00:00.000Z" }, false], // impossible date
    ["logs", { ...log, level: "FATAL" }, false],
    ["logs", { ...log, service: "" }, false],
    ["logs", { ...log, user_id: null }, false],
    ["logs", { ...log, message: 5 }, false],
    ["metrics", { ...metric, cpu: 100.5 }, false],
    ["metrics", { ...metric, latency_ms: -1 }, false],
    ["metrics", { ...metric, memory: null }, false],
    ["metrics", { ...metric, error_rate: 2 }, false],
    ["transactions", { ...tx, currency: "eur" }, true],
    ["transactions", { ...tx, country: "fr" }, true],
    ["transactions", { ...tx, amount: 0 }, false],
    ["transactions", { ...tx, amount: "5" }, false],
    ["transactions", { ...tx, status: "lost" }, false],
    ["transactions", { ...tx, currency: "EURO" }, false],
  ];
  for (const [type, event, valid] of cases) {
    await t.step(`${type} ${JSON.stringify(event)}`, () => {
      assert.equal(fastEvent(type, event), null);
      const f = fields(JSON.stringify(event), { topic: type });
      const r = parseEntry(type, "1-1", f);
      assert.deepEqual(r, parseEntrySlow(type, "1-1", f));
      assert.equal(r.ok, valid);
    });
  }
  await t.step("envelopes", () => {
    const data = JSON.stringify(log);
    for (
      const bad of [
        fields(data, { partition: "-1" }),
        fields(data, { offset: "12a" }),
        fields(data, { ingest_ts: "abc" }),
        fields("x"),
        ["data", data, "topic", "logs"],
      ]
    ) {
      assert.equal(fastEnvelope(bad), null);
      assert.deepEqual(parseEntry("logs", "1-1", bad), parseEntrySlow("logs", "1-1", bad));
      assert.equal(parseEntry("logs", "1-1", bad).ok, false);
    }
    const notJson = fields("{nope");
    assert.deepEqual(parseEntry("logs", "1-1", notJson), parseEntrySlow("logs", "1-1", notJson));
  });
});

Deno.test("canonicalTime() accepts only the normalised form", () => {
  assert.equal(canonicalTime("2025-01-01T00:00:00.000Z"), Date.UTC(2025, 0, 1));
  assert.ok(Number.isNaN(canonicalTime("2025-01-01T00:00:00Z")));
  assert.ok(Number.isNaN(canonicalTime("2025-02-29T00:00:00.000Z")));
  assert.ok(Number.isNaN(canonicalTime(1735689600000)));
  assert.equal(canonicalTime("2024-02-29T23:59:59.999Z"), Date.UTC(2024, 1, 29, 23, 59, 59, 999));
  for (
    const bad of [
      "0070-01-01T00:00:00.000Z",
      "1969-12-31T23:59:59.999Z",
      "2200-01-01T00:00:00.001Z",
      "2025-13-01T00:00:00.000Z",
      "2025-04-31T00:00:00.000Z",
      "2025-01-01T24:00:00.000Z",
      "2025-01-01T00:60:00.000Z",
      "2025-01-01T00:00:60.000Z",
      "2025-01-01 00:00:00.000Z",
      "2025-01-01T00:00:00.00aZ",
    ]
  ) assert.ok(Number.isNaN(canonicalTime(bad)), bad);
  // Same answers as the shared zod schema for a sweep of real instants.
  for (let t = Date.UTC(1999, 11, 31); t < Date.UTC(2001, 2, 2); t += 86_399_999) {
    assert.equal(canonicalTime(new Date(t).toISOString()), t);
  }
});

Deno.test("traceIdOf() reads the trace id of a traceparent, any case, none for zeros", () => {
  const id = "0af7651916cd43dd8448eb211c80319c";
  assert.equal(traceIdOf(`00-${id}-b7ad6b7169203331-01`), id);
  assert.equal(traceIdOf(` 00-${id.toUpperCase()}-B7AD6B7169203331-01 `), id);
  assert.equal(traceIdOf(`00-${"0".repeat(32)}-b7ad6b7169203331-01`), null);
  assert.equal(traceIdOf(`00-${id}-b7ad6b7169203331-0g`), null);
  assert.equal(traceIdOf(`00-${id}-b7ad6b716920333-01`), null);
  assert.equal(traceIdOf(`00_${id}-b7ad6b7169203331-01`), null);
  assert.equal(traceIdOf(""), null);
  assert.equal(traceIdOf(undefined), null);
});
