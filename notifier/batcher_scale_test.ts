/**
 * The batcher under an alert storm: a tick over 40,000 held alerts inhibits
 * and digests them right. Its cost (linear in the alerts held; a digest of
 * 40,000 blocked the notifier's loop for 5 s while every WARNING was compared
 * with every CRITICAL) is measured by `deno task bench:notifier`
 * (`batcher_bench.ts`), not timed here.
 */
import assert from "node:assert/strict";
import { tick } from "./batcher.ts";
import { stormState } from "@vigil/tools/testing/batcher";

Deno.test("tick() inhibits and digests 40,000 held alerts", () => {
  const n = 40_000;
  const { state, due, opts } = stormState(n);
  const t = tick(state, due, opts);
  assert.equal(t.settled.filter((s) => s.disposition === "inhibited").length, n / 4);
  assert.equal(t.digests.length, 1);
  assert.equal(t.digests[0]!.alerts.length, (3 * n) / 4);
});
