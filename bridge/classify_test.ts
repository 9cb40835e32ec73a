import assert from "node:assert/strict";
import { createGenerator, SCENARIOS } from "@vigil/producer/generator";
import { parseEvent } from "@vigil/shared/schemas/event";
import { classifyMessage, type RawMessage } from "./classify.ts";

const enc = new TextEncoder();
const ts = "2025-01-02T03:04:05.000Z";

function msg(topic: string, value: string | Uint8Array | null, extra: Partial<RawMessage> = {}) {
  return {
    topic,
    partition: 1,
    offset: "42",
    key: enc.encode("svc"),
    value: typeof value === "string" ? enc.encode(value) : value,
    ...extra,
  };
}

Deno.test("classifyMessage() turns a valid event into normalised JSON with key and traceparent", () => {
  const tp = "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01";
  const c = classifyMessage(
    msg(
      "transactions",
      JSON.stringify({
        timestamp: 1735787045,
        transaction_id: "t1",
        user_id: "u1",
        amount: 5,
        currency: "eur",
        status: "approved",
      }),
      { headers: { traceparent: Uint8Array.from(enc.encode(tp)) } },
    ),
  );
  assert.equal(c.kind, "event");
  if (c.kind !== "event") return;
  assert.equal(c.type, "transactions");
  assert.equal(c.key, "svc");
  assert.equal(c.traceparent, tp);
  const data = JSON.parse(c.data);
  assert.equal(data.timestamp, ts);
  assert.equal(data.currency, "EUR");
});

Deno.test("classifyMessage() drops a malformed traceparent but keeps the event", () => {
  const c = classifyMessage(
    msg("logs", JSON.stringify({ timestamp: ts, service: "a", level: "info", message: "m" }), {
      headers: { traceparent: "nonsense" },
      key: null,
    }),
  );
  assert.equal(c.kind, "event");
  if (c.kind === "event") {
    assert.equal(c.traceparent, "");
    assert.equal(c.key, "");
  }
});

Deno.test("classifyMessage() dead-letters bad input with a reason kind", async (t) => {
  const cases: [string, RawMessage, string, "utf8" | "base64"][] = [
    ["unknown topic", msg("other", "{}"), "unknown_topic", "utf8"],
    ["null value", msg("logs", null), "empty", "utf8"],
    ["empty value", msg("logs", ""), "empty", "utf8"],
    ["too large", msg("logs", "x".repeat(101)), "too_large", "utf8"],
    ["binary", msg("logs", new Uint8Array([0xff, 0xfe, 0x01])), "not_utf8", "base64"],
    ["bad JSON", msg("logs", "{nope"), "invalid_json", "utf8"],
    ["missing fields", msg("metrics", JSON.stringify({ timestamp: ts })), "invalid_schema", "utf8"],
    [
      "wrong types",
      msg("metrics", JSON.stringify({ timestamp: ts, service: "s", cpu: "1", latency_ms: 1 })),
      "invalid_schema",
      "utf8",
    ],
    ["array", msg("logs", "[1]"), "invalid_schema", "utf8"],
  ];
  for (const [name, input, kind, encoding] of cases) {
    await t.step(name, () => {
      const c = classifyMessage(input, { maxBytes: 100 });
      assert.equal(c.kind, "dead");
      if (c.kind !== "dead") return;
      assert.equal(c.reasonKind, kind);
      assert.ok(c.reason.startsWith(`${kind}: `), c.reason);
      assert.equal(c.encoding, encoding);
    });
  }
});

Deno.test("classifyMessage() keeps raw bytes of a binary dead letter as base64", () => {
  const bytes = new Uint8Array([0, 255, 128, 10]);
  const c = classifyMessage(msg("logs", bytes));
  assert.equal(c.kind, "dead");
  if (c.kind === "dead") {
    assert.deepEqual([...Uint8Array.from(atob(c.raw), (ch) => ch.charCodeAt(0))], [...bytes]);
  }
});

Deno.test("classifyMessage() names the failing field in a schema reason", () => {
  const c = classifyMessage(
    msg("metrics", JSON.stringify({ timestamp: ts, service: "s", cpu: 500, latency_ms: 1 })),
  );
  assert.equal(c.kind, "dead");
  if (c.kind === "dead") assert.match(c.reason, /cpu/);
});

Deno.test("classifyMessage() keeps canonical text as is and equals the schema's output on all traffic", () => {
  const gen = createGenerator({ seed: 9, users: 200 });
  const messages = gen.normal(Date.UTC(2025, 0, 1), 2000);
  for (const name of SCENARIOS) messages.push(...gen.scenario(name, Date.UTC(2025, 0, 1)).messages);
  for (const m of messages) {
    const c = classifyMessage(msg(m.topic, m.value));
    assert.equal(c.kind, "event");
    if (c.kind !== "event") continue;
    assert.equal(c.data, m.value, "canonical producer output is stored byte for byte");
    const zod = parseEvent(c.type, JSON.parse(m.value));
    assert.ok(zod.ok);
    assert.deepEqual(JSON.parse(c.data), zod.event);
  }
  // Not canonical (level case, zone offset, padded name): normalised by the schema.
  const c = classifyMessage(msg(
    "logs",
    '{"timestamp":"2025-01-02T04:04:05+01:00","service":" api ","level":"error","message":"x"}',
  ));
  assert.equal(c.kind, "event");
  if (c.kind === "event") {
    assert.deepEqual(JSON.parse(c.data), {
      timestamp: ts,
      service: "api",
      level: "ERROR",
      message: "x",
    });
  }
});

Deno.test("classifyMessage() decodes non-ASCII values, keys and headers as UTF-8", () => {
  const c = classifyMessage(
    msg("logs", JSON.stringify({ timestamp: ts, service: "café", level: "INFO", message: "ü €" }), {
      key: enc.encode("clé"),
      headers: {
        traceparent: enc.encode(" 00-0123456789ABCDEF0123456789abcdef-0123456789abcdef-01 "),
      },
    }),
  );
  assert.equal(c.kind, "event");
  if (c.kind !== "event") return;
  assert.equal(JSON.parse(c.data).message, "ü €");
  assert.equal(c.key, "clé");
  assert.equal(c.traceparent, "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01");
  for (
    const invalid of [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80]]
  ) {
    const bad = classifyMessage(msg("logs", Uint8Array.of(0x7b, ...invalid, 0x7d)));
    assert.equal(bad.kind, "dead", String(invalid));
    if (bad.kind === "dead") assert.equal(bad.reasonKind, "not_utf8");
  }
  // A real U+FFFD in valid UTF-8 is text, not an error.
  const replacement = classifyMessage(
    msg("logs", JSON.stringify({ timestamp: ts, service: "a", level: "INFO", message: "\uFFFD" })),
  );
  assert.equal(replacement.kind, "event");
});
