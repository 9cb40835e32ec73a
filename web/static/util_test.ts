import assert from "node:assert/strict";
import { ago, fmtValue, shown } from "./util.js";

Deno.test("ago() says how long ago, or how far ahead for a time in the future", () => {
  const now = Date.parse("2026-12-05T13:00:00Z");
  assert.equal(ago("2026-12-05T12:55:00Z", now), "5m ago");
  assert.equal(ago("2026-12-05T13:00:03Z", now), "0s ago", "a few seconds of clock skew");
  // An event stamped ahead of the clock (a replay's data time, a producer's clock).
  assert.equal(ago("2027-02-22T07:36:00Z", now), "in 78d");
  assert.equal(ago("2026-12-05T15:30:00Z", now), "in 2h");
});

Deno.test("fmtValue() shows a detail's plain objects and lists as text, deeper ones as JSON", () => {
  assert.equal(
    fmtValue({ clear: 0.3, warning: 0.5, critical: 0.9 }),
    "clear 0.3 · warning 0.5 · critical 0.9",
  );
  assert.equal(fmtValue(["cpu", "latency_ms"]), "cpu, latency_ms");
  assert.equal(fmtValue(true), "true");
  assert.equal(fmtValue(null), "—");
  assert.equal(fmtValue({ a: { b: 1 } }), '{"a":{"b":1}}');
  assert.equal(fmtValue([{ a: 1 }]), '[{"a":1}]');
});

Deno.test("shown() marks the bidirectional marks: two right-to-left marks reorder digits", () => {
  // "amount 12\u200f34\u200f56 EUR" is displayed "amount 125634 EUR" (and 99\u061c88\u061c77 as 997788).
  assert.equal(shown("amount 12\u200f34\u200f56 EUR"), "amount 12\uFFFD34\uFFFD56 EUR");
  assert.equal(shown("99\u061c88\u061c77 \u200e"), "99\uFFFD88\uFFFD77 \uFFFD");
  assert.equal(fmtValue("acct 12\u200f34"), "acct 12\uFFFD34", "a detail's text value");
});

Deno.test("shown() marks bidirectional and other hidden controls of event text, keeps line breaks", () => {
  // A right-to-left override would show "evil" as "live" and reorder the rest of the line.
  assert.equal(shown("lone \u202Eevil\u202C end"), "lone \uFFFDevil\uFFFD end");
  assert.equal(shown("a\u2066b\u2069c"), "a\uFFFDb\uFFFDc", "isolates marked");
  assert.equal(shown("x\u001b[31mred\u0085y\u007f"), "x\uFFFD[31mred\uFFFDy\uFFFD");
  assert.equal(shown("line 1\n\tline 2\r\n"), "line 1\n\tline 2\r\n");
  assert.equal(
    shown("مرحبا payment failed"),
    "مرحبا payment failed",
    "right-to-left text itself is kept",
  );
  assert.equal(fmtValue("a\u202Eb"), "a\uFFFDb", "a detail's text value");
  assert.equal(fmtValue({ m: { x: "a\u202Eb" } }), '{"m":{"x":"a\uFFFDb"}}', "a detail's JSON");
});
