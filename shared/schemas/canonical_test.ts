import assert from "node:assert/strict";
import { createGenerator } from "@vigil/producer/generator";
import { SCENARIOS } from "@vigil/producer/scenario_types";
import { canonicalize, canonicalText, fastEvent, isCanonicalText } from "./canonical.ts";
import type { EventType } from "./event.ts";

const TS = "2025-01-01T00:00:00.000Z";
const log = { timestamp: TS, service: "api", level: "ERROR", message: "x" };
const metric = { timestamp: TS, service: "api", cpu: 5, latency_ms: 9 };
const tx = {
  timestamp: TS,
  transaction_id: "t1",
  user_id: "u1",
  amount: 5,
  currency: "EUR",
  status: "approved",
};

/** Inputs of every kind: canonical, normalisable, unclean, bounded, invalid. */
function variants(): [EventType, string][] {
  const j = (v: unknown) => JSON.stringify(v);
  const out: [EventType, string][] = [];
  const add = (type: EventType, ...values: unknown[]) => {
    for (const v of values) out.push([type, typeof v === "string" ? v : j(v)]);
  };
  add(
    "logs",
    log,
    { ...log, user_id: "u1" },
    { ...log, level: "error" },
    { ...log, service: " api " },
    { ...log, timestamp: "2025-01-01T01:00:00+01:00" },
    { ...log, timestamp: 1735689600 },
    { ...log, timestamp: 1735689600000 },
    { ...log, user_id: 42 },
    { ...log, user_id: 1e300 },
    { ...log, user_id: "u\u0000" },
    { ...log, user_id: "\udfff" },
    { ...log, service: "a\nb" },
    { ...log, message: "a\u0000b\tc\ud800" },
    { ...log, message: "tab\tand\nnewline" },
    { ...log, message: 'quote " and \\ backslash' },
    { ...log, extra: { nested: ["a", 1, null, true] } },
    { ...log, extra: "x\u0007y" },
    { extra: 1, ...log },
    { user_id: "u", ...log },
    { ...log, "10": "integer-like key" },
    { ...log, level: "FATAL" },
    { ...log, message: 5 },
    { ...log, user_id: null },
    [log],
    "null",
    '{"timestamp":"2025-01-01T00:00:00.000Z","service":"api","level":"ERROR","message":"x","__proto__":{"a":1},"constructor":1}',
    '{ "timestamp" : "2025-01-01T00:00:00.000Z", "service":"api","level":"ERROR","message":"x" }',
    '{"timestamp":"2025-01-01T00:00:00.000Z","service":"api","level":"ERROR","message":"\\u0041"}',
    '{"timestamp":"2025-01-01T00:00:00.000Z","service":"api","level":"ERROR","message":"x","n":-0}',
    '{"timestamp":"2025-01-01T00:00:00.000Z","service":"api","level":"ERROR","message":"x","n":1e999}',
    '{"timestamp":"2025-01-01T00:00:00.000Z","service":"api","level":"ERROR","message":"x","n":1E2}',
  );
  add(
    "metrics",
    metric,
    { ...metric, memory: 10, error_rate: 0.5 },
    { timestamp: 1735689600, service: "api", latency_ms: 12, error_rate: 0.01 },
    { ...metric, cpu: 100.5 },
    { ...metric, memory: null },
    { ...metric, tags: { region: "eu", "\u0000": 1 } },
    { ...metric, ...Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`x${i}`, i])) },
    { ...metric, big: "x".repeat(9000) },
    '{"timestamp":"2025-01-01T00:00:00.000Z","service":"api","cpu":-0,"latency_ms":9}',
    '{"timestamp":"2025-01-01T00:00:00.000Z","service":"api","cpu":5,"latency_ms":1e999}',
    '{"timestamp":"2025-01-01T00:00:00.000Z","service":"api","cpu":5.0,"latency_ms":9}',
  );
  add(
    "transactions",
    tx,
    { ...tx, merchant: "shop", country: "FR" },
    { ...tx, currency: "eur", country: "fr" },
    { ...tx, user_id: 7, transaction_id: 8 },
    { ...tx, user_id: 123456789012345678901234567890 },
    { ...tx, merchant: "sh\u0000op" },
    { ...tx, amount: 0 },
    { ...tx, status: "lost" },
  );
  return out;
}

function bothPaths(type: EventType, text: string) {
  const value = JSON.parse(text);
  const clean = !text.includes("\\");
  return {
    fast: canonicalize(type, value, { clean }),
    zod: canonicalize(type, value, { fast: false }),
  };
}

Deno.test("canonicalize() gives the same outcome by the fast path and by zod on every input form", () => {
  const gen = createGenerator({ seed: 11, users: 300 });
  const messages = gen.normal(Date.UTC(2025, 0, 1), 3000);
  for (const name of SCENARIOS) messages.push(...gen.scenario(name, Date.UTC(2025, 0, 1)).messages);
  const inputs: [EventType, string][] = [
    ...messages.map((m) => [m.topic, m.value] as [EventType, string]),
    ...variants(),
  ];
  let fastHits = 0;
  for (const [type, text] of inputs) {
    const { fast, zod } = bothPaths(type, text);
    assert.deepEqual(fast, zod, `${type} ${text.slice(0, 200)}`);
    if (fastEvent(type, JSON.parse(text), { clean: !text.includes("\\") }) !== null) fastHits++;
  }
  assert.ok(fastHits >= messages.length, "the producer's traffic takes the fast path");
});

Deno.test("canonicalize() output is a fixed point: its data parses back to the same text, by the fast path", () => {
  for (const [type, text] of variants()) {
    const first = canonicalize(type, JSON.parse(text), { fast: false });
    if (!first.ok) continue;
    const again = canonicalize(type, JSON.parse(first.data));
    assert.ok(again.ok);
    assert.equal(again.data, first.data, text);
    // Only an integer-like extra key (enumerated before the known fields) leaves the fast path.
    const fast = fastEvent(type, JSON.parse(first.data));
    assert.equal(fast === null, /"\d+":/.test(first.data), first.data);
  }
});

Deno.test("canonicalize() writes each type's known fields in schema order, then the extra ones", () => {
  const r = canonicalize(
    "logs",
    JSON.parse('{"z":1,"10":2,"message":"m","level":"info","service":"s","timestamp":0}'),
  );
  assert.ok(r.ok);
  assert.equal(
    r.data,
    '{"timestamp":"1970-01-01T00:00:00.000Z","service":"s","level":"INFO","message":"m","10":2,"z":1}',
  );
  assert.equal(canonicalText("logs", r.event as Record<string, unknown>), r.data);
  const m = canonicalize("metrics", { latency_ms: 1, timestamp: TS, service: "a", cpu: 2 });
  assert.ok(m.ok);
  assert.equal(m.data, `{"timestamp":"${TS}","service":"a","cpu":2,"latency_ms":1}`);
});

Deno.test("fastEvent() leaves every unclean or reordered value to zod", () => {
  assert.ok(fastEvent("logs", log));
  assert.ok(fastEvent("logs", { ...log, message: "a\tb\nc" }), "tab and newlines are clean text");
  assert.equal(fastEvent("logs", { ...log, user_id: "u\u0000" }), null);
  assert.equal(fastEvent("logs", { ...log, message: "\ud800" }), null);
  assert.equal(fastEvent("metrics", { ...metric, cpu: -0 }), null);
  assert.equal(
    fastEvent("logs", { service: "api", timestamp: TS, level: "ERROR", message: "x" }),
    null,
  );
  assert.equal(fastEvent("logs", { ...log, user_id: 42 }), null);
  assert.equal(
    fastEvent("logs", JSON.parse(JSON.stringify(log).slice(0, -1) + ',"__proto__":1}')),
    null,
  );
  // Told the text has no escapes (so no C0 control, no lone surrogate), it still checks ids
  // for what JSON carries unescaped: a line separator, a bidirectional control, a C1 control.
  for (const user_id of ["u\u2028", "u\u202e", "u\u0085", "u\u007f"]) {
    assert.equal(fastEvent("logs", { ...log, user_id }, { clean: true }), null, user_id);
  }
  assert.ok(fastEvent("logs", { ...log, message: "m\u2028\u202e" }, { clean: true }));
});

Deno.test('canonicalize() refuses "." and ".." as an identifier by the fast paths too', () => {
  const l = `{"timestamp":"${TS}","service":"api","level":"ERROR","message":"x"}`;
  const cases: [EventType, string][] = [
    ["logs", l.replace('"api"', '"."')],
    ["logs", l.replace('"api"', '".."')],
    ["logs", l.replace("}", ',"user_id":".."}')],
    ["metrics", JSON.stringify({ ...metric, service: ".." })],
    ["transactions", JSON.stringify({ ...tx, user_id: "." })],
    ["transactions", JSON.stringify({ ...tx, merchant: ".." })],
  ];
  for (const [type, text] of cases) {
    assert.equal(isCanonicalText(type, text), false, text);
    const { fast, zod } = bothPaths(type, text);
    assert.equal(fast.ok, false, text);
    assert.deepEqual(fast, zod, text);
  }
});

Deno.test("isCanonicalText() accepts only texts that are their own canonical form", async (t) => {
  const check = (type: EventType, text: string) => {
    if (!isCanonicalText(type, text)) return false;
    const r = canonicalize(type, JSON.parse(text), { fast: false });
    assert.ok(r.ok, text);
    assert.equal(r.data, text);
    return true;
  };
  await t.step("the producer's traffic and every scenario", () => {
    const gen = createGenerator({ seed: 12, users: 300 });
    const messages = gen.normal(Date.UTC(2025, 0, 1), 3000);
    for (const name of SCENARIOS) {
      messages.push(...gen.scenario(name, Date.UTC(2025, 0, 1)).messages);
    }
    for (const m of messages) assert.ok(check(m.topic, m.value), m.value);
  });
  await t.step("near misses", () => {
    const l = `{"timestamp":"${TS}","service":"api","level":"ERROR","message":"x"}`;
    assert.ok(check("logs", l));
    assert.ok(check("logs", l.replace('"x"', '"line\u2028sep é \ud83d\ude00"')));
    const misses: [EventType, string][] = [
      ["logs", l.replace(',"service"', ', "service"')],
      ["logs", l + " "],
      ["logs", l.replace('"ERROR"', '"error"')],
      ["logs", l.replace('"api"', '" api"')],
      ["logs", l.replace('"api"', '"a\\u0000"')],
      ["logs", l.replace('"api"', '"a\u0000"')],
      ["logs", l.replace('"x"', '"\u0007"')],
      ["logs", l.replace('"x"', '"\ud800"')],
      ["logs", l.replace('"x"', '"a\\"b"')],
      ["logs", l.replace("}", ',"service":"b"}')],
      ["logs", l.replace("}", ',"extra":1}')],
      ["logs", l.replace("}", ',"user_id":42}')],
      ["logs", l.replace(`"${TS}"`, "1735689600")],
      ["logs", l.replace(".000Z", "Z")],
      ["metrics", `{"timestamp":"${TS}","service":"a","cpu":5.0,"latency_ms":1}`],
      ["metrics", `{"timestamp":"${TS}","service":"a","cpu":1e1,"latency_ms":1}`],
      ["metrics", `{"timestamp":"${TS}","service":"a","cpu":-0,"latency_ms":1}`],
      ["metrics", `{"timestamp":"${TS}","service":"a","cpu":Infinity,"latency_ms":1}`],
      ["metrics", `{"timestamp":"${TS}","service":"a","cpu":,"latency_ms":1}`],
      ["metrics", `{"timestamp":"${TS}","service":"a","latency_ms":1,"cpu":5}`],
      ["metrics", `{"timestamp":"${TS}","service":"a","cpu":101,"latency_ms":1}`],
      ["transactions", JSON.stringify({ ...tx, currency: "eur" })],
      ["transactions", JSON.stringify({ ...tx, amount: 0 })],
      // Raw (unescaped) characters an identifier refuses.
      ...["\u007f", "\u0085", "\u2028", "\u2029", "\u202e", "\u2066"].flatMap((c) =>
        [
          ["logs", l.replace('"api"', `"a${c}pi"`)],
          ["transactions", JSON.stringify({ ...tx, user_id: `u${c}` })],
          ["transactions", JSON.stringify({ ...tx, merchant: `${c}m` })],
        ] as [EventType, string][]
      ),
    ];
    for (const [type, text] of misses) assert.equal(isCanonicalText(type, text), false, text);
    assert.ok(check("metrics", `{"timestamp":"${TS}","service":"a","cpu":1e-7,"latency_ms":1}`));
  });
  await t.step("20,000 random one-character edits of canonical texts", () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = ' ,:{}[]"\\0123456789.eE-+abcxyzAPIT\u0000\u2028\u202e\u0085\u007fé';
    const gen = createGenerator({ seed: 13 });
    const base = gen.normal(Date.UTC(2025, 0, 1), 300);
    let accepted = 0;
    for (let k = 0; k < 20_000; k++) {
      const m = base[rand(base.length)]!;
      const at = rand(m.value.length);
      const ch = alphabet[rand(alphabet.length)]!;
      const op = rand(3);
      const text = op === 0
        ? m.value.slice(0, at) + m.value.slice(at + 1)
        : op === 1
        ? m.value.slice(0, at) + ch + m.value.slice(at)
        : m.value.slice(0, at) + ch + m.value.slice(at + 1);
      if (check(m.topic, text)) accepted++;
    }
    assert.ok(accepted > 100, `some edits stay canonical (${accepted})`);
  });
});
