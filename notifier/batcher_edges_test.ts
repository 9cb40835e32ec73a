/**
 * Edge cases of the batcher against docs/notifier.md: odd characters in group label values,
 * a resolution while inhibited, a repeat interval shorter than the group interval, an immediate
 * CRITICAL in a group that already sent.
 */
import assert from "node:assert/strict";
import { type BatcherOptions, emptyState, nextDueAt } from "./batcher.ts";
import type { Route } from "./routes.ts";
import { alert, H, item, M, ROUTE, S, step, T0 } from "@vigil/tools/testing/batcher";

Deno.test("alerts with different group_by values never share a group, whatever characters they hold", () => {
  // Entities are untrusted text: `a,rule=b` + `c` and `a` + `b,rule=c` made the same key.
  const route: Route = { ...ROUTE, groupBy: ["entity", "rule"] };
  const opts: BatcherOptions = { routes: [route] };
  const x = alert({ id: "x", entity: "a,rule=b", rule: "c" });
  const y = alert({ id: "y", entity: "a", rule: "b,rule=c" });
  let r = step(emptyState(), [item(x), item(y)], T0, opts);
  assert.equal(Object.keys(r.state.groups).length, 2);
  r = step(r.state, [], T0 + 30 * S, opts);
  assert.deepEqual(
    r.digests.map((d) => [d.groupLabels, d.alerts.map((a) => a.id)]).sort((p, q) =>
      String(p[1]).localeCompare(String(q[1]))
    ),
    [[{ entity: "a,rule=b", rule: "c" }, ["x"]], [{ entity: "a", rule: "b,rule=c" }, ["y"]]],
  );
});

Deno.test("an alert that resolves while inhibited and never announced is dropped, also when its source resolves before its group's turn", () => {
  const opts: BatcherOptions = { routes: [{ ...ROUTE, groupBy: [] }] };
  const crit = alert({ id: "crit", severity: "CRITICAL", entity: "api" });
  const warn = alert({ id: "warn", severity: "WARNING", entity: "api" });
  let r = step(emptyState(), [item(crit), item(warn)], T0, opts);
  r = step(r.state, [], T0 + 30 * S, opts);
  assert.deepEqual(r.digests.map((d) => d.alerts.map((a) => a.id)), [["crit"]]);
  assert.deepEqual(r.settled.map((s) => [s.alertId, s.disposition]), [["warn", "inhibited"]]);
  // The WARNING resolves while the CRITICAL fires, then the CRITICAL resolves, before the turn.
  r = step(r.state, [item({ ...warn, status: "resolved" })], T0 + 40 * S, opts);
  r = step(r.state, [item({ ...crit, status: "resolved" })], T0 + 50 * S, opts);
  r = step(r.state, [], nextDueAt(r.state, opts)!, opts);
  assert.deepEqual(r.digests.map((d) => d.alerts.map((a) => [a.id, a.status])), [[[
    "crit",
    "resolved",
  ]]]);
});

Deno.test("with repeat_interval shorter than group_interval, a change still waits for group_interval", () => {
  const route: Route = { ...ROUTE, groupBy: [], groupIntervalMs: 5 * M, repeatIntervalMs: M };
  const opts: BatcherOptions = { routes: [route] };
  let r = step(emptyState(), [item(alert({ id: "a" }))], T0, opts);
  r = step(r.state, [], T0 + 30 * S, opts);
  assert.equal(r.digests.length, 1);
  r = step(r.state, [item(alert({ id: "b" }))], T0 + 40 * S, opts);
  // "sent again at most every GROUP_INTERVAL": not at T0+90 s as a "(still firing)" repeat.
  const sent: [number, string, string[]][] = [];
  for (let t = T0 + 41 * S; t <= T0 + 30 * S + 5 * M; t += S) {
    r = step(r.state, [], t, opts);
    for (const d of r.digests) sent.push([t - T0, d.kind, d.alerts.map((a) => a.id)]);
  }
  assert.deepEqual(sent, [[30 * S + 5 * M, "digest", ["a", "b"]]]);
});

Deno.test("an immediate CRITICAL does not put off the repeat of its group's other firing alerts", () => {
  const route: Route = { ...ROUTE, groupBy: [], criticalImmediate: true };
  const opts: BatcherOptions = { routes: [route], inhibitRules: [] };
  let r = step(emptyState(), [item(alert({ id: "w" }))], T0, opts);
  r = step(r.state, [], T0 + 30 * S, opts);
  assert.equal(r.digests.length, 1);
  r = step(r.state, [item(alert({ id: "c", severity: "CRITICAL" }))], T0 + 3 * H, opts);
  assert.deepEqual(r.digests.map((d) => d.kind), ["immediate"]);
  // "An unchanged group with firing alerts is re-sent after REPEAT_INTERVAL": w was last told
  // at T0+30 s, so it is reminded at T0+4 h 30 s, not 7 h.
  assert.equal(nextDueAt(r.state, opts), T0 + 30 * S + 4 * H);
  r = step(r.state, [], T0 + 30 * S + 4 * H, opts);
  assert.deepEqual(r.digests.map((d) => [d.kind, d.alerts.map((a) => a.id)]), [
    ["repeat", ["c", "w"]],
  ]);
});

Deno.test("an alert that fires, resolves and fires again before its digest: the digest accounts for all three entries", () => {
  // A detector replaying from a checkpoint republishes the same ids. The first two entries were
  // dropped from the group: never in a digest, "pending" in vigil_notifier_pending_alerts for days.
  const opts: BatcherOptions = { routes: [{ ...ROUTE, groupBy: [] }] };
  const a = alert({ id: "again" });
  const items = [item(a), item({ ...a, status: "resolved" }), item(a)];
  let r = step(emptyState(), items, T0, opts);
  r = step(r.state, [], T0 + 30 * S, opts);
  assert.deepEqual(r.digests.map((d) => d.alerts.map((x) => [x.id, x.status])), [[[
    "again",
    "firing",
  ]]]);
  assert.deepEqual(r.digests[0]!.streamIds, items.map((i) => i.streamId));
});
