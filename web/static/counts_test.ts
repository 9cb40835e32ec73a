import assert from "node:assert/strict";
import { addDelta, forgetOld, liveDelta, noteResolved } from "./counts.js";

const NOW = Date.parse("2025-03-01T12:00:00Z");
const at = (minutesAgo: number) => new Date(NOW - minutesAgo * 60_000).toISOString();
const alert = (id: string, status: string, minutesAgo: number, severity = "WARNING") => ({
  id,
  status,
  severity,
  detected_at: at(minutesAgo),
  resolved_at: status === "resolved" ? at(0) : null,
});

Deno.test("liveDelta() counts firing alerts and the resolutions of the last hour, once each", () => {
  const resolved = new Map<string, number>();
  const counts = { last_hour: { WARNING: 4, CRITICAL: 1 }, open_last_hour: 3 };
  const delta = liveDelta(
    [
      alert("a", "firing", 0, "CRITICAL"),
      alert("a", "resolved", 0), // fired and resolved in one batch
      alert("b", "resolved", 30),
      alert("b", "resolved", 30), // told twice
      alert("old", "resolved", 61), // detected over an hour ago: not counted open
    ],
    resolved,
    NOW,
  );
  assert.deepEqual(delta, { bySeverity: { CRITICAL: 1 }, open: -1 });
  assert.deepEqual(addDelta(counts, delta), {
    last_hour: { WARNING: 4, CRITICAL: 2 },
    open_last_hour: 2,
  });
  // Told again later: nothing.
  assert.deepEqual(liveDelta([alert("b", "resolved", 30)], resolved, NOW), {
    bySeverity: {},
    open: 0,
  });
  // A row read resolved with the list is not counted down again by its live resolution.
  noteResolved(resolved, [alert("c", "resolved", 10), alert("d", "firing", 10)], NOW);
  assert.deepEqual(
    liveDelta([alert("c", "resolved", 10), alert("d", "resolved", 10)], resolved, NOW).open,
    -1,
  );
  // Never below zero, and counts never read stay unread.
  assert.equal(
    addDelta({ last_hour: {}, open_last_hour: 0 }, { bySeverity: {}, open: -2 })
      .open_last_hour,
    0,
  );
  const unread = {};
  assert.equal(addDelta(unread, { bySeverity: { INFO: 1 }, open: 1 }), unread);
  // What was detected over an hour ago is forgotten.
  forgetOld(resolved, NOW + 31 * 60_000);
  assert.deepEqual([...resolved.keys()].sort(), ["a", "c", "d"]);
  forgetOld(resolved, NOW + 61 * 60_000);
  assert.deepEqual([...resolved.keys()], []);
});
