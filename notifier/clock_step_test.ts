/**
 * The notifier's clock set back (NTP stepping it, a VM restored from a
 * snapshot, a standby taking over on a host whose clock is behind): the
 * group timers must not wait for the clock to catch up with times it had
 * recorded before.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type BatcherState, emptyState, ingest, type IngestItem, tick } from "./batcher.ts";
import { notAfter } from "./groups.ts";
import { alert, H, item, M, OPTS, S, T0 } from "@vigil/tools/testing/batcher";

/** What the notifier does at `now`: the state brought to its clock, then ingest and tick. */
function turn(state: BatcherState, items: IngestItem[], now: number) {
  const a = ingest(notAfter(state, now), items, now, OPTS);
  const b = tick(notAfter(a.state, now), now, OPTS);
  return { state: b.state, digests: [...a.digests, ...b.digests] };
}

Deno.test("a new alert after the clock was set back an hour is told within the group interval", () => {
  let r = turn(emptyState(), [item(alert())], T0);
  r = turn(r.state, [], T0 + 30 * S);
  assert.equal(r.digests.length, 1, "the first digest after GROUP_WAIT");
  const now = T0 + 31 * S - H; // the clock goes back an hour
  r = turn(r.state, [item(alert())], now);
  let told: number | null = null;
  for (let at = now; at < now + 2 * H && told === null; at += 10 * S) {
    r = turn(r.state, [], at);
    if (r.digests.length) told = at - now;
  }
  // The group's last digest was "an hour ahead": the new alert waited 61 min for it.
  assert.ok(told !== null && told <= M, `told after ${told === null ? "never" : told / M} min`);
});

Deno.test("notAfter() leaves a state with nothing ahead of the clock as it is", () => {
  const r = turn(emptyState(), [item(alert())], T0);
  assert.equal(notAfter(r.state, T0), r.state);
  const back = notAfter(r.state, T0 - H);
  const g = Object.values(back.groups)[0]!;
  assert.equal(g.createdAt, T0 - H);
  assert.deepEqual(Object.values(g.alerts).map((a) => a.firstSeenAt), [T0 - H]);
  assert.deepEqual(Object.values(back.flaps), [[T0 - H]]);
  assert.equal(Object.values(r.state.groups)[0]!.createdAt, T0, "the state given is not changed");
});
