import assert from "node:assert/strict";
import {
  cleanExtras,
  cleanText,
  identifierProblem,
  isCleanIdentifier,
  isCleanText,
  resolveExtraLimits,
  utf8Length,
} from "./hygiene.ts";

Deno.test("identifierProblem() names the first control, separator, bidi control or lone surrogate", () => {
  assert.equal(identifierProblem("user-42"), undefined);
  assert.equal(identifierProblem("caf\u00e9 \ud83d\ude00"), undefined);
  assert.equal(
    identifierProblem("u\u0000"),
    "control character U+0000 at position 1 is not allowed",
  );
  assert.equal(
    identifierProblem("\u001f"),
    "control character U+001F at position 0 is not allowed",
  );
  assert.equal(
    identifierProblem("ab\udfff"),
    "lone surrogate U+DFFF at position 2 is not allowed",
  );
  assert.equal(
    identifierProblem("\ud83d\ude00\ud83d"),
    "lone surrogate U+D83D at position 2 is not allowed",
  );
  assert.equal(isCleanIdentifier("a\tb"), false);
  assert.equal(isCleanIdentifier("a b"), true);
  // What breaks a line or reorders text where ids are shown: refused too.
  for (
    const [id, problem] of [
      ["a\u007f", "control character U+007F at position 1"],
      ["a\u0085", "control character U+0085 at position 1"],
      ["\u009fa", "control character U+009F at position 0"],
      ["a\u2028b", "line separator U+2028 at position 1"],
      ["a\u2029", "paragraph separator U+2029 at position 1"],
      ["ab\u202a", "bidirectional control U+202A at position 2"],
      ["\u202etxt.exe", "bidirectional control U+202E at position 0"],
      ["a\u2066b\u2069", "bidirectional control U+2066 at position 1"],
      // Marks too: two right-to-left marks show user-12\u200f34\u200f56 as "user-125634", another user.
      ["user-12\u200f34\u200f56", "bidirectional control U+200F at position 7"],
      ["a\u200e", "bidirectional control U+200E at position 1"],
      ["a\u061c", "bidirectional control U+061C at position 1"],
      // Invisible: pay\u200bments and \ufeffpayments show as a second "payments".
      ["pay\u200bments", "invisible character U+200B at position 3"],
      ["\ufeffpayments", "invisible character U+FEFF at position 0"],
      ["pay\u00adments", "invisible character U+00AD at position 3"],
      ["a\u2060", "invisible character U+2060 at position 1"],
      ["a\u2064", "invisible character U+2064 at position 1"],
    ]
  ) {
    assert.equal(identifierProblem(id!), `${problem} is not allowed`);
    assert.equal(isCleanIdentifier(id!), false);
  }
  // Their neighbours are ordinary characters.
  for (
    const id of [
      "a~",
      "a\u00a0b",
      "\u00e9",
      "a\u2027",
      "a\u202fb",
      "a\u2065",
      "a\u206a",
      // The zero width (non-)joiners: Persian words and emoji sequences (👩‍💻) need them.
      "a\u200d",
      "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
      "\u{1f469}\u200d\u{1f4bb}",
      "a\u00ac\u00ae",
      "a\ufefe",
    ]
  ) {
    assert.equal(isCleanIdentifier(id), true, id);
  }
});

Deno.test("cleanText() keeps tab, LF and CR and replaces other C0 controls and lone surrogates", () => {
  assert.equal(cleanText("a\tb\nc\rd"), "a\tb\nc\rd");
  assert.equal(isCleanText("a\tb\nc\rd"), true);
  assert.equal(cleanText("\u0000x\u0001\u000b\u000c\u001f"), "\ufffdx\ufffd\ufffd\ufffd\ufffd");
  assert.equal(cleanText("\ud800\udc00\udc00\ud800"), "\ud800\udc00\ufffd\ufffd");
  const same = "plain text";
  assert.equal(cleanText(same), same);
});

Deno.test("utf8Length() counts UTF-8 bytes", () => {
  for (const s of ["", "abc", "é", "€", "\ud83d\ude00", "a\u00e9\u20ac\ud83d\ude00z"]) {
    assert.equal(utf8Length(s), new TextEncoder().encode(s).length, s);
  }
});

Deno.test("cleanExtras() reports the path of the first problem and whether it changed anything", () => {
  const limits = resolveExtraLimits();
  const ok = cleanExtras({ a: 1, b: [true, null, "x"] }, ["a", "b"], limits);
  assert.ok(ok.ok);
  assert.equal(ok.changed, false);
  assert.equal(ok.text, '"a":1,"b":[true,null,"x"]');
  const stripped = cleanExtras(JSON.parse('{"a":{"__proto__":1,"k":"x"}}'), ["a"], limits);
  assert.ok(stripped.ok && stripped.changed);
  assert.equal(stripped.text, '"a":{"k":"x"}');
  const replaced = cleanExtras({ a: { k: "\u0000" } }, ["a"], limits);
  assert.ok(replaced.ok && replaced.changed);
  const bad = cleanExtras({ a: { b: [1, NaN] } }, ["a"], limits);
  assert.deepEqual(bad, {
    ok: false,
    path: ["a", "b", 1],
    message: "number out of range (not finite)",
  });
  assert.throws(() => resolveExtraLimits({ maxFields: 0 }), RangeError);
  assert.throws(
    () => resolveExtraLimits({ maxBytes: 1.5 }),
    /'maxBytes' must be a positive integer/,
  );
});

Deno.test("cleanExtras() refuses a field with more items than maxBytes can hold before copying them", () => {
  // A 1 MiB message holds half a million array items or 100,000 keys: each was cleaned and
  // copied, then serialised, before the size was looked at (~250 ms per message at the bridge).
  const limits = resolveExtraLimits();
  const tooLarge = { ok: false, path: [], message: "extra fields larger than 8192 bytes" };
  // Refused before any item is read (counted, not timed: a timed bound failed on a loaded machine).
  let reads = 0;
  const counting = <T extends object>(target: T) =>
    new Proxy(target, {
      get(t, p, r) {
        if (typeof p === "string" && p !== "length") reads++;
        return Reflect.get(t, p, r);
      },
    });
  const items = counting(new Array(2_000_000).fill(0));
  assert.deepEqual(cleanExtras({ x: items }, ["x"], limits), tooLarge);
  assert.equal(reads, 0, "no item of the oversized array was read");
  const keys = counting(
    Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, 0])),
  );
  assert.deepEqual(cleanExtras({ x: { nested: [keys] } }, ["x"], limits), tooLarge);
  assert.equal(reads, 0, "no value of the object with too many keys was read");
  // Below the bound, items are cleaned and measured as before.
  assert.ok(cleanExtras({ x: new Array(4_090).fill(0) }, ["x"], limits).ok);
  assert.deepEqual(cleanExtras({ x: new Array(4_096).fill(10) }, ["x"], limits), tooLarge);
  const protos = JSON.parse(`{"__proto__":1,"constructor":2,"prototype":3,"k":"v"}`);
  assert.ok(cleanExtras({ x: protos }, ["x"], { ...limits, maxBytes: 13 }).ok);
});
