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
      // What PostgreSQL cannot read (a 500 before): year 0, Feb 30, 24:00, NUL in the id.
      encodeCursor({ ts: "0000-01-01T00:00:00Z", id: "x" }),
      encodeCursor({ ts: "2026-02-30T00:00:00Z", id: "x" }),
      encodeCursor({ ts: "2026-02-28T24:00:00Z", id: "x" }),
      encodeCursor({ ts: "2026-02-28T10:00:00Z", id: "x\u0000" }),
      encodeCursor({ ts: "2026-02-28T10:00:00Z", id: "x".repeat(501) }),
    ]
  ) {
    await t.step(bad, () => {
      assert.throws(() => decodeCursor(bad), /Cannot read cursor/);
    });
  }
});
