/**
 * What the batcher leaves out of digests: record-only routes (17.16),
 * inhibited alerts (18.4) and acknowledged ones (18.5).
 */
import assert from "node:assert/strict";
import { type BatcherOptions, emptyState, ingest, nextDueAt, tick } from "./batcher.ts";
import { createInhibitor, type InhibitRule } from "./inhibit.ts";

/** The source that inhibits `alert` among `sources`, or null. */
const inhibitorOf = (
  alert: Parameters<ReturnType<typeof createInhibitor>>[0],
  sources: Parameters<typeof createInhibitor>[0],
  rules: readonly InhibitRule[],
) => createInhibitor(sources, rules)(alert);
import type { Route } from "./routes.ts";
import { alert, H, item, M, ROUTE, S, step, T0 } from "@vigil/tools/testing/batcher";

const ONE_GROUP: Route = { ...ROUTE, groupBy: [] };
const OPTS: BatcherOptions = { routes: [ONE_GROUP] };

Deno.test("ingest() records alerts of a route without channel and plans no digest", () => {
  const logOnly: Route = {
    ...ROUTE,
    name: "log-only",
    match: { severity: "WARNING" },
    channels: [],
  };
  const opts = { routes: [logOnly, ROUTE] };
  const w = alert({ severity: "WARNING" });
  const c = alert({ severity: "CRITICAL" });
  const r = ingest(emptyState(), [item(w), item(c)], T0, opts);
  assert.deepEqual(r.settled.map((s) => [s.alertId, s.disposition, s.route]), [
    [w.id, "recorded", "log-only"],
  ]);
  const later = tick(r.state, T0 + H, opts);
  assert.deepEqual(later.digests.flatMap((d) => d.alerts.map((a) => a.id)), [c.id]);
});

Deno.test("createInhibitor() matches source and target on the equal labels, never itself", () => {
  const rules = [{
    source: { severity: "CRITICAL" as const },
    target: { severity: "WARNING" as const },
    equal: ["entity" as const],
  }];
  const crit = alert({ id: "c", severity: "CRITICAL", entity: "api" });
  assert.equal(inhibitorOf(alert({ severity: "WARNING", entity: "api" }), [crit], rules), "c");
  assert.equal(inhibitorOf(alert({ severity: "WARNING", entity: "db" }), [crit], rules), null);
  assert.equal(inhibitorOf(alert({ severity: "INFO", entity: "api" }), [crit], rules), null);
  assert.equal(inhibitorOf(crit, [crit], rules), null);
  assert.equal(inhibitorOf(alert({ severity: "WARNING", entity: "api" }), [crit], []), null);
});

Deno.test("tick() does not let alerts matching both source and target inhibit each other", () => {
  // "A CRITICAL hides the other metrics alerts of its service": latency_high and cpu_and_latency
  // (both CRITICAL metrics, one reading) each match both sides, and each hid the other.
  const opts: BatcherOptions = {
    ...OPTS,
    inhibitRules: [{
      source: { severity: "CRITICAL" },
      target: { type: "metrics" },
      equal: ["entity"],
    }],
  };
  const latency = alert({
    id: "latency",
    rule: "latency_high",
    severity: "CRITICAL",
    entity: "api",
  });
  const both = alert({ id: "both", rule: "cpu_and_latency", severity: "CRITICAL", entity: "api" });
  const warn = alert({ id: "warn", rule: "metric_score", severity: "WARNING", entity: "api" });
  let r = step(emptyState(), [item(latency), item(both), item(warn)], T0, opts);
  r = step(r.state, [], T0 + 30 * S, opts);
  assert.deepEqual(r.digests.map((d) => d.alerts.map((a) => a.id).sort()), [["both", "latency"]]);
  assert.deepEqual(r.settled.map((s) => [s.alertId, s.disposition]), [["warn", "inhibited"]]);
  // A source matching only the source side still inhibits one that matches both.
  const logs = alert({ id: "logs", type: "logs", severity: "CRITICAL", entity: "api" });
  assert.equal(inhibitorOf(latency, [logs, both], opts.inhibitRules!), "logs");
  assert.equal(inhibitorOf(latency, [both], opts.inhibitRules!), null);
});

Deno.test("tick() leaves a WARNING out while a CRITICAL of its entity fires, then announces it", () => {
  const crit = alert({ id: "crit", severity: "CRITICAL", entity: "api" });
  const warn = alert({ id: "warn", severity: "WARNING", entity: "api" });
  const other = alert({ id: "other", severity: "WARNING", entity: "db" });
  let r = step(emptyState(), [item(crit), item(warn), item(other)], T0, OPTS);
  r = step(r.state, [], T0 + 30 * S, OPTS);
  assert.equal(r.digests.length, 1);
  assert.deepEqual(r.digests[0]!.alerts.map((a) => a.id), ["crit", "other"]);
  assert.deepEqual(
    r.settled.map((s) => [s.alertId, s.disposition, s.inhibitedBy]),
    [["warn", "inhibited", "crit"]],
  );
  // A repeat leaves it out too.
  r = step(r.state, [], T0 + 30 * S + 4 * H, OPTS);
  assert.deepEqual(r.digests.map((d) => [d.kind, d.alerts.map((a) => a.id)]), [
    ["repeat", ["crit", "other"]],
  ]);
  // The CRITICAL resolves: the WARNING is released and announced as new.
  const t = T0 + 5 * H;
  r = step(
    r.state,
    [item({ ...crit, status: "resolved", resolved_at: new Date(t).toISOString() })],
    t,
    OPTS,
  );
  assert.equal(r.digests.length, 1, "at once: group_interval passed long ago");
  const d = r.digests[0]!;
  assert.deepEqual(d.alerts.map((a) => [a.id, a.status, a.isNew]), [
    ["other", "firing", false],
    ["warn", "firing", true],
    ["crit", "resolved", false],
  ]);
});

Deno.test("tick() drops the resolution of an alert that was inhibited all along", () => {
  const crit = alert({ id: "crit", severity: "CRITICAL", entity: "api" });
  const warn = alert({ id: "warn", severity: "WARNING", entity: "api" });
  let r = step(emptyState(), [item(crit), item(warn)], T0, OPTS);
  r = step(r.state, [], T0 + 30 * S, OPTS);
  r = step(r.state, [item({ ...warn, status: "resolved" })], T0 + M, OPTS);
  r = step(r.state, [], T0 + 10 * M, OPTS);
  assert.deepEqual(r.digests.map((d) => d.alerts.map((a) => a.id)), []);
  assert.equal(Object.values(r.state.groups)[0]!.alerts["warn"], undefined, "forgotten");
});

Deno.test("tick() drops an inhibited alert that fired and resolved before its first digest", () => {
  // The producer's level_shift: the CRITICAL metric_score and the WARNING entity_score of one
  // service arrive together, the WARNING already resolved; its resolution was sent, never its firing.
  const crit = alert({ id: "crit", severity: "CRITICAL", entity: "api" });
  const warn = alert({ id: "warn", severity: "WARNING", entity: "api" });
  let r = step(
    emptyState(),
    [item(crit), item(warn), item({ ...warn, status: "resolved" })],
    T0,
    OPTS,
  );
  r = step(r.state, [], T0 + 30 * S, OPTS);
  assert.deepEqual(r.digests.map((d) => d.alerts.map((a) => a.id)), [["crit"]]);
  assert.equal(Object.values(r.state.groups)[0]!.alerts["warn"], undefined, "forgotten");
});

Deno.test("tick() with inhibitRules [] sends both", () => {
  const opts = { ...OPTS, inhibitRules: [] };
  const r = ingest(
    emptyState(),
    [
      item(alert({ severity: "CRITICAL", entity: "api" })),
      item(alert({ severity: "WARNING", entity: "api" })),
    ],
    T0,
    opts,
  );
  assert.equal(tick(r.state, T0 + 30 * S, opts).digests[0]!.alerts.length, 2);
});

Deno.test("tick() sends no still-firing repeat for an acknowledged alert, and reports its resolution", () => {
  const a = alert({ id: "a1" });
  const b = alert({ id: "b1" });
  let r = step(emptyState(), [item(a), item(b)], T0, OPTS);
  r = step(r.state, [], T0 + 30 * S, OPTS);
  assert.equal(r.digests.length, 1);
  const acked: BatcherOptions = { ...OPTS, acknowledged: new Set(["a1"]) };
  // Repeat: only the unacknowledged one.
  r = step(r.state, [], T0 + 30 * S + 4 * H, acked);
  assert.deepEqual(r.digests.map((d) => [d.kind, d.alerts.map((x) => x.id)]), [["repeat", ["b1"]]]);
  // Both acknowledged: no repeat at all, and the timer is re-armed (no busy loop).
  const both: BatcherOptions = { ...OPTS, acknowledged: new Set(["a1", "b1"]) };
  const t = T0 + 30 * S + 8 * H;
  r = step(r.state, [], t, both);
  assert.equal(r.digests.length, 0);
  assert.equal(nextDueAt(r.state, both), t + 4 * H);
  // Its resolution is still told (it had been announced), at once (interval passed).
  r = step(r.state, [item({ ...a, status: "resolved" })], t + M, both);
  assert.deepEqual(r.digests.map((d) => d.alerts.map((x) => [x.id, x.status])), [[[
    "a1",
    "resolved",
  ]]]);
});

Deno.test("ingest() does not send an inhibited CRITICAL at once (critical_immediate); its group holds it", () => {
  const route: Route = { ...ONE_GROUP, criticalImmediate: true };
  const opts: BatcherOptions = {
    routes: [route],
    inhibitRules: [{
      source: { rule: "host_down" },
      target: { type: "metrics" },
      equal: ["entity"],
    }],
  };
  const down = alert({ id: "down", rule: "host_down", type: "logs", entity: "web-1" });
  let r = step(emptyState(), [item(down)], T0, opts);
  r = step(r.state, [], T0 + 30 * S, opts);
  assert.deepEqual(r.digests.map((d) => d.alerts.map((a) => a.id)), [["down"]]);
  // The host is down: its CPU CRITICAL is inhibited, not sent at once.
  const cpu = alert({ id: "cpu", severity: "CRITICAL", type: "metrics", entity: "web-1" });
  const other = alert({ id: "other", severity: "CRITICAL", type: "metrics", entity: "db-1" });
  const now = T0 + 40 * S;
  const i = ingest(r.state, [item(cpu), item(other)], now, opts);
  assert.deepEqual(i.digests.map((d) => [d.kind, d.alerts.map((a) => a.id)]), [
    ["immediate", ["other"]],
  ]);
  // The group's next turn records it as inhibited and does not list it.
  const t = tick(i.state, nextDueAt(i.state, opts)!, opts);
  assert.deepEqual(t.settled.map((s) => [s.alertId, s.disposition, s.inhibitedBy]), [
    ["cpu", "inhibited", "down"],
  ]);
  assert.deepEqual(t.digests.flatMap((d) => d.alerts.map((a) => a.id)), []);
});
