import assert from "node:assert/strict";
import { createGenerator } from "@vigil/producer/generator";
import { SCENARIOS } from "@vigil/producer/scenario_types";
import { parseEvent } from "@vigil/shared/schemas/event";
import { canonicalize } from "@vigil/shared/schemas/canonical";
import { classifyMessage, MAX_KEY_BYTES, type RawMessage } from "./classify.ts";

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

Deno.test("classifyMessage() keeps the first 4 KiB of a valid event's key, not a megabyte", () => {
  const event = JSON.stringify({ timestamp: ts, service: "svc", cpu: 1, latency_ms: 2 });
  // Before: a 400 KB key went whole into the stream entry and every answer showing its evidence.
  const long = classifyMessage(msg("metrics", event, { key: enc.encode("k".repeat(400_000)) }));
  assert.equal(long.kind, "event");
  assert.equal(long.key, "k".repeat(MAX_KEY_BYTES) + "…");
  const exact = classifyMessage(msg("metrics", event, { key: enc.encode("é".repeat(2048)) }));
  assert.equal(exact.key, "é".repeat(2048), "a key of 4096 bytes is kept whole");
  const none = classifyMessage(msg("metrics", event, { key: null }));
  assert.equal(none.key, "");
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

Deno.test("classifyMessage() drops a traceparent the W3C says to ignore: version ff, zero ids", () => {
  const ids = "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7";
  for (
    const [header, kept] of [
      [`00-${ids}-01`, true],
      [`ff-${ids}-01`, false],
      [`FF-${ids}-01`, false],
      [`00-${"0".repeat(32)}-00f067aa0ba902b7-01`, false],
      [`00-4bf92f3577b34da6a3ce929d0e0e4736-${"0".repeat(16)}-01`, false],
    ] as const
  ) {
    const c = classifyMessage(
      msg("logs", JSON.stringify({ timestamp: ts, service: "a", level: "info", message: "m" }), {
        headers: { traceparent: header },
      }),
    );
    assert.equal(c.kind, "event");
    if (c.kind === "event") assert.equal(c.traceparent, kept ? header : "", header);
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

Deno.test("classifyMessage() keeps the key, a bounded raw prefix, the size and SHA-256 of a dead letter", async () => {
  const big = "é".repeat(3000); // 6000 bytes: the 4096-byte cut falls inside a character
  const value = enc.encode(
    `{"timestamp":"${ts}","service":"s","level":"INFO","message":5,"pad":"${big}"}`,
  );
  const c = classifyMessage(msg("logs", value, { key: enc.encode("k\u00e9y") }));
  assert.equal(c.kind, "dead");
  if (c.kind !== "dead") return;
  assert.equal(c.reasonKind, "invalid_schema");
  assert.equal(c.size, value.length);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", value));
  assert.equal(c.sha256, [...digest].map((b) => b.toString(16).padStart(2, "0")).join(""));
  assert.equal(c.encoding, "utf8");
  const rawBytes = enc.encode(c.raw);
  assert.ok(rawBytes.length <= 4096 && rawBytes.length >= 4094, String(rawBytes.length));
  assert.deepEqual(rawBytes, value.subarray(0, rawBytes.length), "a prefix, cut on a character");
  assert.equal(c.key, "k\u00e9y");
  assert.equal(c.keyEncoding, "utf8");
  // Configurable; binary prefixes are base64; no key stays no key.
  const bin = classifyMessage(msg("logs", new Uint8Array(100).fill(0xff), { key: null }), {
    deadRawBytes: 10,
  });
  assert.ok(bin.kind === "dead");
  if (bin.kind !== "dead") return;
  assert.equal(bin.encoding, "base64");
  assert.deepEqual(
    [...Uint8Array.from(atob(bin.raw), (ch) => ch.charCodeAt(0))],
    Array(10).fill(0xff),
  );
  assert.equal(bin.size, 100);
  assert.equal(bin.key, "");
  assert.equal(bin.keyEncoding, "");
  const binaryKey = classifyMessage(msg("nope", "{}", { key: Uint8Array.of(0xc3, 0x28) }));
  assert.ok(binaryKey.kind === "dead" && binaryKey.keyEncoding === "base64");
});

/**
 * What a reason must not hold: a line break for some viewer (C0, NEL and the
 * other C1 controls, DEL, U+2028, U+2029), a bidirectional control, the
 * invisible byte order mark.
 */
const UNSHOWN =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/;

Deno.test("classifyMessage() names a byte order mark before the JSON, visibly", () => {
  // Shown as is, the BOM is invisible: the reason read `Unexpected token '', "{"timesta"...`.
  const value = `\ufeff{"timestamp":"${ts}","service":"api","cpu":1,"latency_ms":1}`;
  for (const fast of [true, false]) {
    const c = classifyMessage(msg("metrics", value), { fast });
    assert.ok(c.kind === "dead");
    assert.equal(
      c.reason,
      `invalid_json: Unexpected token '\\ufeff', "\\ufeff{"timesta"... is not valid JSON`,
    );
    assert.ok(!UNSHOWN.test(c.reason), c.reason);
    assert.equal(c.raw, value, "the raw prefix keeps the bytes as they came");
  }
});

Deno.test("classifyMessage() writes a reason on one line: line breaks and bidirectional controls as escapes, raw kept", () => {
  const log = (extra: string) =>
    `{"timestamp":"${ts}","service":"api","level":"INFO","message":"m"${extra}}`;
  const escaped = (chars: string) =>
    [...chars].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join("");
  // JSON.parse's message shows a short text whole: three characters at a time.
  const parseExcerpts = [
    "\u2028\u2029\u0085",
    "\u202a\u202e\u2066",
    "\u2069\u200e\u200f",
    "\u061c\u007f\u009b",
  ]
    .map((chars): [string, RawMessage, string] => [
      `${escaped(chars)} in JSON.parse's excerpt of the text`,
      msg("logs", `["${chars}",}`),
      `invalid_json: Unexpected token '}', "["${escaped(chars)}",}" is not valid JSON`,
    ]);
  const cases: [string, RawMessage, string | RegExp][] = [
    [
      "a line separator in an extra field's key, echoed in the path",
      msg("logs", log(',"a\u2028b":1')),
      "invalid_schema: a\\u2028b: key: line separator U+2028 at position 1 is not allowed",
    ],
    [
      "the same key written as a JSON escape",
      msg("logs", log(',"a\\u2028b":1')),
      "invalid_schema: a\\u2028b: key: line separator U+2028 at position 1 is not allowed",
    ],
    [
      "a right-to-left override in a timestamp's excerpt",
      msg("logs", `{"timestamp":"2025\u202e-01-02","service":"api","level":"INFO","message":"m"}`),
      'invalid_schema: timestamp: not an ISO 8601 timestamp: "2025\\u202e-01-02"',
    ],
    ...parseExcerpts,
    [
      "a pretty-printed text in JSON.parse's excerpt",
      msg("logs", '{\n\t"a": \r\n}'),
      /^invalid_json: .*"\{\\n\\t"a": \\r\\n\}"/,
    ],
    [
      "a line separator in the topic",
      msg("lo\u2028gs", "{}"),
      'unknown_topic: topic "lo\\u2028gs"',
    ],
    [
      "a surrogate pair cut by the reason's bound",
      msg("logs", log(`,"${"k".repeat(499)}\u{1f600}":1e999`)),
      /k\\ud83d$/,
    ],
  ];
  for (const [name, input, expected] of cases) {
    for (const fast of [true, false]) {
      const c = classifyMessage(input, { fast });
      assert.ok(c.kind === "dead", name);
      if (c.kind !== "dead") continue;
      if (typeof expected === "string") assert.equal(c.reason, expected, name);
      else assert.match(c.reason, expected, name);
      assert.ok(!UNSHOWN.test(c.reason), `${name}: ${JSON.stringify(c.reason)}`);
      assert.ok(c.reason.isWellFormed(), name);
      // The raw prefix is evidence: the bytes as they came.
      assert.equal(c.raw, new TextDecoder().decode(input.value!), name);
    }
  }
});

/** Hostile and unusual inputs, with the outcome each must get. */
function hostile(): [string, RawMessage, string][] {
  const t = ts;
  const logOf = (extra: string) =>
    `{"timestamp":"${t}","service":"api","level":"INFO","message":"m"${extra}}`;
  const txOf = (userId: string) =>
    `{"timestamp":"${t}","transaction_id":"t1","user_id":${userId},"amount":5,"currency":"EUR","status":"approved"}`;
  return [
    ["NUL in a log's user_id", msg("logs", logOf(',"user_id":"u\\u0000"')), "invalid_schema"],
    ["NUL in a transaction's user_id", msg("transactions", txOf('"u\\u0000"')), "invalid_schema"],
    ["lone surrogate escape in user_id", msg("transactions", txOf('"\\udfff"')), "invalid_schema"],
    [
      "C0 control in service",
      msg("metrics", `{"timestamp":"${t}","service":"a\\u0007","cpu":1,"latency_ms":1}`),
      "invalid_schema",
    ],
    [
      "NUL and lone surrogate in the message",
      msg(
        "logs",
        `{"timestamp":"${t}","service":"api","level":"INFO","message":"a\\u0000b\\ud800"}`,
      ),
      "event",
    ],
    [
      "raw bytes of a surrogate (CESU-8)",
      msg("logs", Uint8Array.of(0x22, 0xed, 0xa0, 0x80, 0x22)),
      "not_utf8",
    ],
    [
      "raw NUL byte inside a string",
      msg("logs", Uint8Array.of(0x7b, 0x22, 0x00, 0x22, 0x3a, 0x31, 0x7d)),
      "invalid_json",
    ],
    ["100,000 levels of [", msg("logs", "[".repeat(100_000)), "invalid_json"],
    [
      "100,000 levels of [ closed",
      msg("logs", "[".repeat(100_000) + "]".repeat(100_000)),
      "invalid_schema",
    ],
    [
      "100,000 levels in an extra field",
      msg("logs", logOf(',"x":' + "[".repeat(100_000) + "]".repeat(100_000))),
      "invalid_schema",
    ],
    [
      "1e999 as cpu",
      msg("metrics", `{"timestamp":"${t}","service":"a","cpu":1e999,"latency_ms":1}`),
      "invalid_schema",
    ],
    ["1e999 in an extra field", msg("logs", logOf(',"x":1e999')), "invalid_schema"],
    [
      "-0 as cpu",
      msg("metrics", `{"timestamp":"${t}","service":"a","cpu":-0,"latency_ms":1}`),
      "event",
    ],
    [
      "a huge integer as user_id",
      msg("transactions", txOf("123456789012345678901234567890")),
      "invalid_schema",
    ],
    ["a numeric user_id", msg("transactions", txOf("42")), "event"],
    [
      "__proto__ and constructor keys",
      msg("logs", logOf(',"__proto__":{"x":1},"constructor":{"prototype":1}')),
      "event",
    ],
    ["duplicate key", msg("logs", logOf(',"service":"other"')), "invalid_json"],
    ["duplicate key, escaped", msg("logs", logOf(',"\\u0073ervice":"api"')), "invalid_json"],
    ["duplicate key, nested", msg("logs", logOf(',"x":{"a":1,"a":2}')), "invalid_json"],
    [
      "33 extra fields",
      msg("logs", logOf(Array.from({ length: 33 }, (_, i) => `,"x${i}":1`).join(""))),
      "invalid_schema",
    ],
    ["9 KiB of extra fields", msg("logs", logOf(`,"x":"${"a".repeat(9000)}"`)), "invalid_schema"],
    ["huge body", msg("logs", logOf(`,"x":"${"a".repeat(2_000_000)}"`)), "too_large"],
    [
      "whitespace and reordered keys",
      msg(
        "logs",
        ` { "message" : "m", "level":"info" , "service":"api","timestamp":${
          Date.parse(t) / 1000
        } } `,
      ),
      "event",
    ],
    [
      "the simulator's record on logs",
      msg(
        "logs",
        `{"timestamp":${Date.parse(t) / 1000},"service":"api","latency_ms":12.5,"error_rate":0.01}`,
      ),
      "event",
    ],
    [
      "the simulator's record with a bad latency",
      msg("logs", `{"timestamp":${Date.parse(t) / 1000},"service":"api","latency_ms":-1}`),
      "invalid_schema",
    ],
  ];
}

Deno.test("classifyMessage() gives the same outcome by the fast path and by zod, and canonical data", async (t) => {
  for (const [name, input, expected] of hostile()) {
    await t.step(name, () => {
      const fast = classifyMessage(input);
      const zod = classifyMessage(input, { fast: false });
      assert.deepEqual(fast, zod);
      assert.equal(
        fast.kind === "event" ? "event" : fast.reasonKind,
        expected,
        JSON.stringify(fast).slice(0, 300),
      );
      if (fast.kind === "dead") {
        assert.ok(!UNSHOWN.test(fast.reason), "a one-line reason");
        assert.ok(fast.reason.isWellFormed());
        return;
      }
      // The guarantee: data is the canonical text (a fixed point) and clean.
      const again = canonicalize(fast.type, JSON.parse(fast.data));
      assert.ok(again.ok);
      assert.equal(again.data, fast.data);
      assert.ok(!/\\u00(0[0-8bcef]|1[0-9a-f])|\\ud[89a-f]/i.test(fast.data), fast.data);
    });
  }
});

Deno.test("classifyMessage() names the field and routes the simulator's record to metrics", () => {
  const nul = classifyMessage(
    msg(
      "logs",
      `{"timestamp":"${ts}","service":"api","level":"INFO","message":"m","user_id":"u\\u0000"}`,
    ),
  );
  assert.ok(nul.kind === "dead");
  if (nul.kind === "dead") {
    assert.equal(
      nul.reason,
      "invalid_schema: user_id: control character U+0000 at position 1 is not allowed",
    );
  }
  const sim = classifyMessage(
    msg(
      "logs",
      '{"timestamp":1735787045,"service":"checkout","latency_ms":12.5,"error_rate":0.01}',
    ),
  );
  assert.ok(sim.kind === "event");
  if (sim.kind === "event") {
    assert.equal(sim.type, "metrics");
    assert.equal(
      sim.data,
      `{"timestamp":"${ts}","service":"checkout","latency_ms":12.5,"error_rate":0.01}`,
    );
  }
  const bad = classifyMessage(
    msg("logs", '{"timestamp":1735787045,"service":"a","latency_ms":"x"}'),
  );
  assert.ok(
    bad.kind === "dead" && /^invalid_schema: \(as a metric\) latency_ms: /.test(bad.reason),
  );
  const dup = classifyMessage(
    msg("logs", `{"timestamp":"${ts}","service":"a","service":"b","level":"INFO","message":""}`),
  );
  assert.ok(dup.kind === "dead");
  if (dup.kind === "dead") assert.equal(dup.reason, 'invalid_json: duplicate key "service"');
});
