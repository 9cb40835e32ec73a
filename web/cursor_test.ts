import assert from "node:assert/strict";
import { decodeCursor, encodeCursor } from "./cursor.ts";

Deno.test("encodeCursor() round-trips through decodeCursor()", () => {
  const c = { ts: "2025-01-02T03:04:05.123456Z", id: "rule:ä/é+?=" };
  const text = encodeCursor(c);
  assert.match(text, /^[\w-]+$/);
  assert.deepEqual(decodeCursor(text), c);
});

Deno.test("decodeCursor() rejects garbage with a clear error", async (t) => {
  for (
    const bad of [
      "%%%",
      "abc",
      encodeCursor({ ts: "yesterday", id: "x" }),
      encodeCursor({ ts: "2025-01-02T03:04:05Z", id: "" }),
      btoa(JSON.stringify({ ts: "2025-01-02T03:04:05Z", id: "x" })),
    ]
  ) {
    await t.step(bad, () => {
      assert.throws(() => decodeCursor(bad), /Cannot read cursor/);
    });
  }
});
