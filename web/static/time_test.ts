import assert from "node:assert/strict";
import { noteServerDate, serverNow } from "./time.js";

Deno.test("serverNow() follows the server's Date when this clock is off by more than 2 s", () => {
  const near = (ms: number, expected: number) =>
    assert.ok(Math.abs(ms - expected) <= 1000, `${ms} is not within 1 s of ${expected}`);
  const at = Date.now();
  // A browser 10 minutes behind the server.
  noteServerDate(new Date(at + 600_000).toUTCString(), at);
  near(serverNow() - Date.now(), 600_000);
  // A second of difference is the header's rounding, not a clock off: what was found stays.
  noteServerDate(new Date(at + 601_000).toUTCString(), at);
  near(serverNow() - Date.now(), 600_000);
  // The clock set right again.
  noteServerDate(new Date(at).toUTCString(), at);
  near(serverNow(), Date.now());
  // A second off, or no usable header: nothing changes.
  noteServerDate(new Date(at + 1500).toUTCString(), at);
  noteServerDate(null, at);
  noteServerDate("yesterday", at);
  near(serverNow(), Date.now());
});
