/**
 * The batcher under an alert storm (`deno task bench:notifier`): one tick over
 * 10,000 and 40,000 held alerts, half of the WARNINGs inhibited by a CRITICAL
 * of their entity. Its work grows with the alerts held, not with their square
 * (40,000 alerts took 5 s per tick while every WARNING was compared with every
 * CRITICAL; docs/benchmarks.md). The test `batcher_scale_test.ts` checks the
 * outcome at 40,000, untimed.
 *
 * @module
 */
import { tick } from "./batcher.ts";
import { stormState } from "@vigil/tools/testing/batcher";

for (const n of [10_000, 40_000]) {
  const { state, due, opts } = stormState(n);
  Deno.bench(`tick() over ${n.toLocaleString("en")} held alerts`, { group: "tick" }, () => {
    tick(state, due, opts);
  });
}
