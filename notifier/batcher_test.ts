import assert from "node:assert/strict";
import type { Silence } from "@vigil/shared/silences";
import { type BatcherOptions, emptyState, ingest, nextDueAt, tick } from "./batcher.ts";
import type { Route } from "./routes.ts";
import type { Digest } from "./digest.ts";
import { alert, H, item, M, OPTS, ROUTE, S, step, T0 } from "@vigil/tools/testing/batcher";

Deno.test("tick() holds a new group for group_wait, then sends one digest with all alerts", () => {
  const burst = Array.from(
    { length: 50 },
    (_, i) => item(alert({ severity: "CRITICAL", id: `c${i}` })),
  );
  let r = step(emptyState(), burst.slice(0, 25), T0);
  assert.equal(r.digests.length, 0);
  r = step(r.state, burst.slice(25), T0 + 20 * S);
  assert.equal(r.digests.length, 0, "still inside group_wait");
  assert.equal(nextDueAt(r.state, OPTS), T0 + 30 * S);
  r = step(r.state, [], T0 + 30 * S - 1);
  assert.equal(r.digests.length, 0);
  r = step(r.state, [], T0 + 30 * S);
  assert.equal(r.digests.length, 1);
  const d = r.digests[0]!;
  assert.equal(d.kind, "digest");
  assert.equal(d.alerts.length, 50);
  assert.ok(d.alerts.every((a) => a.isNew));
  assert.equal(d.streamIds.length, 50);
  assert.deepEqual(d.groupLabels, { type: "metrics", severity: "CRITICAL" });
  assert.deepEqual(d.channels, ["email", "discord"]);
});

Deno.test("ingest() groups by the route's labels", () => {
  const r = step(emptyState(), [
    item(alert({ severity: "CRITICAL" })),
    item(alert({ severity: "WARNING" })),
    item(alert({ severity: "WARNING", type: "logs" })),
    item(alert({ severity: "WARNING" })),
  ], T0);
  const after = tick(r.state, T0 + 30 * S, OPTS);
  assert.deepEqual(after.digests.map((d) => d.alerts.length).sort(), [1, 1, 2]);
  const bySvc: Route = { ...ROUTE, groupBy: ["entity"] };
  const r2 = ingest(
    emptyState(),
    [
      item(alert({ entity: "api" })),
      item(alert({ entity: "api", severity: "CRITICAL" })),
      item(alert({ entity: "db" })),
    ],
    T0,
    { routes: [bySvc] },
  );
  assert.equal(Object.keys(r2.state.groups).length, 2);
});

Deno.test("tick() sends a grown group after group_interval, not before", () => {
  let r = step(emptyState(), [item(alert())], T0);
  r = step(r.state, [], T0 + 30 * S);
  assert.equal(r.digests.length, 1);
  r = step(r.state, [item(alert())], T0 + 40 * S);
  assert.equal(r.digests.length, 0, "group_interval not elapsed");
  r = step(r.state, [], T0 + 89 * S);
  assert.equal(r.digests.length, 0);
  r = step(r.state, [], T0 + 90 * S);
  assert.equal(r.digests.length, 1);
  const d = r.digests[0]!;
  assert.equal(d.alerts.length, 2, "a digest shows the whole group");
  assert.equal(d.alerts.filter((a) => a.isNew).length, 1);
  assert.equal(d.streamIds.length, 1, "only the new entry is accounted to this digest");
  // Nothing changed: no digest at the next interval.
  r = step(r.state, [], T0 + 150 * S);
  assert.equal(r.digests.length, 0);
});

Deno.test("tick() re-sends an unchanged group after repeat_interval", () => {
  let r = step(emptyState(), [item(alert())], T0);
  r = step(r.state, [], T0 + 30 * S);
  assert.equal(r.digests.length, 1);
  assert.equal(nextDueAt(r.state, OPTS), T0 + 30 * S + 4 * H);
  r = step(r.state, [], T0 + 30 * S + 4 * H - 1);
  assert.equal(r.digests.length, 0);
  r = step(r.state, [], T0 + 30 * S + 4 * H);
  assert.equal(r.digests.length, 1);
  assert.equal(r.digests[0]!.kind, "repeat");
  assert.equal(r.digests[0]!.alerts[0]!.isNew, false);
  assert.deepEqual(r.digests[0]!.streamIds, []);
});

Deno.test("a digest marks the alerts it tells first: new ones, and ones resolved before any digest", () => {
  const told = alert({ id: "told" });
  let r = step(emptyState(), [item(told)], T0);
  r = step(r.state, [], T0 + 30 * S);
  assert.deepEqual(r.digests[0]!.alerts.map((a) => [a.id, a.isNew, a.firstTold]), [
    ["told", true, true],
  ]);
  // "brief" fires and resolves between two digests; "told" resolves after its digest.
  const brief = alert({ id: "brief" });
  const resolved = (a: typeof told) => ({ ...a, status: "resolved" as const });
  r = step(r.state, [item(brief)], T0 + 40 * S);
  r = step(r.state, [item(resolved(brief)), item(resolved(told))], T0 + 50 * S);
  r = step(r.state, [], T0 + 90 * S);
  assert.deepEqual(
    r.digests[0]!.alerts.map((a) => [a.id, a.status, a.isNew, a.firstTold]).sort(),
    [["brief", "resolved", false, true], ["told", "resolved", false, false]],
  );
});

Deno.test("tick() reports a resolved alert in the next digest with its duration, then forgets it", () => {
  const a = alert({ id: "r1" });
  let r = step(emptyState(), [item(a)], T0);
  r = step(r.state, [], T0 + 30 * S);
  const resolvedAt = new Date(T0 + 12 * M).toISOString();
  r = step(r.state, [
    item({ ...a, status: "resolved", resolved_at: resolvedAt, detected_at: resolvedAt }),
  ], T0 + 12 * M);
  assert.equal(r.digests.length, 1, "group_interval long past: sent at once");
  const d = r.digests[0]!;
  assert.equal(d.alerts.length, 1);
  assert.equal(d.alerts[0]!.status, "resolved");
  assert.equal(d.alerts[0]!.resolvedAfterMs, 12 * M);
  // Kept empty one group interval, so the next alert of its key waits for that interval.
  assert.deepEqual(Object.values(r.state.groups).map((g) => Object.keys(g.alerts)), [[]]);
  assert.equal(nextDueAt(r.state, OPTS), T0 + 12 * M + 60 * S);
  r = step(r.state, [], T0 + 12 * M + 60 * S);
  assert.deepEqual(r.state.groups, {}, "empty group removed after the group interval");
});

Deno.test("a resolved alert's duration is in event time, whatever the detector's clock said", () => {
  // A replay of 2015 data: detected today, event times in 2015, 40 min apart.
  const at = (iso: string) => new Date(Date.parse(iso)).toISOString();
  const a = alert({
    id: "old",
    event_time: at("2015-06-01T08:00:00Z"),
    detected_at: new Date(T0).toISOString(),
  });
  const resolved = {
    ...a,
    status: "resolved" as const,
    resolved_at: at("2015-06-01T08:40:00Z"),
    detected_at: new Date(T0 + S).toISOString(),
  };
  let r = step(emptyState(), [item(a)], T0);
  r = step(r.state, [], T0 + 30 * S);
  r = step(r.state, [item(resolved)], T0 + 2 * M);
  assert.equal(r.digests[0]!.alerts[0]!.resolvedAfterMs, 40 * M);
  // The resolution alone (its firing alert went to an earlier notifier state): the same.
  const alone = step(emptyState(), [item({ ...resolved, id: "old2" })], T0);
  const d = step(alone.state, [], T0 + 30 * S).digests[0]!;
  assert.equal(d.alerts[0]!.resolvedAfterMs, 40 * M);
});

Deno.test("ingest() settles duplicates and silenced alerts without a digest", () => {
  const a = alert({ id: "dup", entity: "api" });
  let r = step(emptyState(), [item(a)], T0);
  const again = ingest(r.state, [item(a)], T0 + S, OPTS);
  assert.equal(again.settled[0]?.disposition, "duplicate");
  const silence: Silence = {
    id: "s1",
    matchers: { entity: "db" },
    starts_at: new Date(T0).toISOString(),
    ends_at: new Date(T0 + H).toISOString(),
    author: "ann",
    comment: "",
    created_at: new Date(T0).toISOString(),
    expired_at: null,
  };
  const opts = { ...OPTS, silences: [silence] };
  r = step(again.state, [item(alert({ entity: "db" }))], T0 + 2 * S, opts);
  assert.deepEqual(r.settled.map((s) => [s.disposition, s.silenceId]), [["silenced", "s1"]]);
  r = step(r.state, [], T0 + 30 * S, opts);
  assert.equal(r.digests.length, 1);
  assert.deepEqual(r.digests[0]!.alerts.map((x) => x.entity), ["api"]);
  // A silence created later drops the alert at the next flush.
  const later = { ...silence, id: "s2", matchers: { entity: "api" } };
  const t = tick(
    ingest(r.state, [item(alert({ entity: "api", id: "new" }))], T0 + 40 * S, OPTS).state,
    T0 + 90 * S,
    { ...OPTS, silences: [later] },
  );
  assert.equal(t.digests.length, 0);
  assert.equal(t.settled.length, 1);
  assert.deepEqual(t.state.groups, {});
});

Deno.test("ingest() sends CRITICAL at once when configured, and the group stays quiet", () => {
  const opts: BatcherOptions = { routes: [{ ...ROUTE, criticalImmediate: true }] };
  let r = step(emptyState(), [item(alert({ severity: "CRITICAL", id: "c" }))], T0, opts);
  assert.equal(r.digests.length, 1);
  assert.equal(r.digests[0]!.kind, "immediate");
  assert.equal(r.digests[0]!.streamIds.length, 1);
  r = step(r.state, [], T0 + 30 * S, opts);
  assert.equal(r.digests.length, 0, "no second message about the same alert");
  r = step(r.state, [item(alert({ severity: "WARNING" }))], T0 + 31 * S, opts);
  r = step(r.state, [], T0 + 61 * S, opts);
  assert.equal(r.digests.length, 1, "non-critical still waits for the digest");
});

Deno.test("a digest's flapping entry carries the FLAP_WINDOW its firings were counted in", () => {
  const opts: BatcherOptions = { routes: [ROUTE], flapThreshold: 1, flapWindowMs: 15 * M };
  const all: Digest[] = [];
  let r = step(emptyState(), [item(alert({ id: "f0", entity: "api" }))], T0, opts);
  r = step(r.state, [item(alert({ id: "f1", entity: "api" }))], T0 + 5 * M, opts);
  all.push(...r.digests);
  r = step(r.state, [], T0 + 10 * M, opts);
  all.push(...r.digests);
  const d = all.find((d) => d.flapping.length > 0);
  assert.ok(d, "the digest names the flapping entity");
  assert.deepEqual(d.flapping.map((f) => [f.changes, f.windowMs]), [[2, 15 * M]]);
});

Deno.test("ingest() demotes a flapping rule/entity to digest-only and the digest says so", () => {
  const opts: BatcherOptions = {
    routes: [{ ...ROUTE, criticalImmediate: true, groupIntervalMs: 0 }],
    flapThreshold: 3,
  };
  let state = emptyState();
  const immediate: number[] = [];
  const all: Digest[] = [];
  for (let i = 0; i < 5; i++) {
    const now = T0 + i * 10 * M;
    const at = new Date(now).toISOString();
    const a = alert({ id: `f${i}`, entity: "api", severity: "CRITICAL", detected_at: at });
    let r = step(state, [item(a)], now, opts);
    immediate.push(r.digests.filter((d) => d.kind === "immediate").length);
    const res = { ...a, status: "resolved" as const, resolved_at: new Date(now + M).toISOString() };
    all.push(...r.digests);
    r = step(r.state, [item(res)], now + M, opts);
    all.push(...r.digests);
    r = step(r.state, [], now + 2 * M, opts);
    all.push(...r.digests);
    state = r.state;
  }
  assert.deepEqual(immediate, [1, 1, 1, 0, 0], "4th firing within the hour is flapping");
  const withNote = all.find((d) => d.flapping.length > 0);
  assert.ok(withNote, "the digest names the flapping entity");
  assert.deepEqual(withNote.flapping[0], {
    type: "metrics",
    rule: "cpu_high",
    entity: "api",
    changes: 4,
    windowMs: 3_600_000,
  });
  // An hour later it is calm again: immediate once more.
  const r = step(
    state,
    [item(alert({
      id: "g",
      entity: "api",
      severity: "CRITICAL",
      detected_at: new Date(T0 + 3 * H).toISOString(),
    }))],
    T0 + 3 * H,
    opts,
  );
  assert.equal(r.digests.filter((d) => d.kind === "immediate").length, 1);
});

Deno.test("tick() gives each digest of a group a distinct deterministic id", () => {
  const items = [item(alert({ id: "x" }))];
  const run = () => {
    let r = step(emptyState(), items, T0);
    r = step(r.state, [], T0 + 30 * S);
    const first = r.digests[0]!.id;
    r = step(r.state, [item(alert({ id: "y" }))], T0 + 100 * S);
    return [first, r.digests[0]!.id];
  };
  const a = run();
  assert.deepEqual(run(), a);
  assert.notEqual(a[0], a[1]);
});

Deno.test("tick() drops a firing alert never resolved after staleAfterMs", () => {
  const opts = { ...OPTS, staleAfterMs: H };
  let r = step(emptyState(), [item(alert())], T0, opts);
  r = step(r.state, [], T0 + 30 * S, opts);
  r = step(r.state, [], T0 + H, opts);
  assert.equal(r.digests.length, 0);
  assert.deepEqual(r.state.groups, {});
});

Deno.test("a stale alert waiting for its first digest does not keep its group due (STALE_AFTER < GROUP_INTERVAL)", () => {
  // STALE_AFTER 1 min, GROUP_INTERVAL 5 min: b arrives after the first digest and is stale
  // before the group's next turn, which still tells it. Its stale time passed, the group kept
  // answering "due now" without anything to do: the notifier's timer spun every 10 ms.
  const route = { ...ROUTE, groupBy: [], groupIntervalMs: 5 * M };
  const opts = { routes: [route], staleAfterMs: M };
  let r = step(emptyState(), [item(alert({ id: "a" }))], T0, opts);
  r = step(r.state, [], T0 + 30 * S, opts);
  assert.deepEqual(r.digests.map((d) => d.alerts.map((x) => x.id)), [["a"]]);
  r = step(r.state, [item(alert({ id: "b" }))], T0 + 40 * S, opts);
  // a turns stale at T0 + 1 min (told already: it leaves), b at T0 + 1 min 40 s.
  r = step(r.state, [], nextDueAt(r.state, opts)!, opts);
  const turn = T0 + 30 * S + 5 * M;
  let last = T0 + M;
  for (let i = 0; i < 3 && last < turn; i++) {
    const due = nextDueAt(r.state, opts)!;
    assert.ok(due > last, `due again at ${(due - T0) / S} s after a turn then`);
    r = step(r.state, [], due, opts);
    last = due;
  }
  assert.equal(last, turn);
  assert.deepEqual(r.digests.map((d) => d.alerts.map((x) => x.id)), [["b"]]);
  // Told, it leaves as stale at the next tick.
  r = step(r.state, [], nextDueAt(r.state, opts)!, opts);
  assert.deepEqual(Object.values(r.state.groups).map((g) => Object.keys(g.alerts)), [[]]);
});

Deno.test("a resolution that arrives during a silence ends the firing copy the group holds", () => {
  // Announced, then silenced while it resolves: the group held its firing copy and, once the
  // silence ended, repeated it as "still firing" every REPEAT_INTERVAL until STALE_AFTER.
  const a = alert({ id: "fired", entity: "db" });
  let r = step(emptyState(), [item(a)], T0);
  r = step(r.state, [], T0 + 30 * S);
  assert.deepEqual(r.digests.map((d) => d.alerts.map((x) => x.id)), [["fired"]]);
  const silence: Silence = {
    id: "s1",
    matchers: { entity: "db" },
    starts_at: new Date(T0 + M).toISOString(),
    ends_at: new Date(T0 + 11 * M).toISOString(),
    author: "ann",
    comment: "",
    created_at: new Date(T0 + M).toISOString(),
    expired_at: null,
  };
  const during = { ...OPTS, silences: [silence] };
  const resolved = {
    ...a,
    status: "resolved" as const,
    resolved_at: new Date(T0 + 5 * M).toISOString(),
  };
  r = step(r.state, [item(resolved)], T0 + 5 * M, during);
  assert.deepEqual(r.settled.map((s) => [s.disposition, s.alertId]), [["silenced", "fired"]]);
  assert.equal(r.digests.length, 0, "silent while the silence lasts");
  // Well after the silence and past a repeat interval: nothing "still firing".
  const later = tick(r.state, T0 + 5 * H, OPTS);
  assert.equal(later.digests.length, 0);
  assert.deepEqual(later.state.groups, {});
});

Deno.test("two groups created in one intake get different digest ids, even when their keys' 32-bit hashes collide", () => {
  // FNV-1a (32 bits) of these two group keys is the same (f303d453): the second digest shared
  // the first one's id and the store, which keeps the first digest of an id, dropped it.
  const opts: BatcherOptions = { routes: [{ ...ROUTE, groupBy: ["entity"] }] };
  const r = step(
    emptyState(),
    [
      item(alert({ entity: "user-10gzzq" })),
      item(alert({ entity: "user-14r0g5p" })),
    ],
    T0,
    opts,
  );
  const t = tick(r.state, T0 + 30 * S, opts);
  assert.equal(t.digests.length, 2);
  assert.notEqual(t.digests[0]!.id, t.digests[1]!.id);
});

Deno.test("a resolution finds its alert in the group that holds it after the grouping changed", () => {
  // GROUP_BY changed across a restart: the resolution's group key under the new labels held
  // nothing, so the old group's firing copy repeated "still firing" until STALE_AFTER.
  const before: BatcherOptions = { routes: [{ ...ROUTE, groupBy: [] }] };
  const after: BatcherOptions = { routes: [{ ...ROUTE, groupBy: ["severity"] }] };
  const a = alert({ id: "moved" });
  let r = step(emptyState(), [item(a)], T0, before);
  r = step(r.state, [], T0 + 30 * S, before);
  assert.equal(r.digests.length, 1);
  const resolvedAt = new Date(T0 + H).toISOString();
  r = step(r.state, [item({ ...a, status: "resolved", resolved_at: resolvedAt })], T0 + H, after);
  assert.deepEqual(r.digests.map((d) => d.alerts.map((x) => [x.id, x.status])), [[[
    "moved",
    "resolved",
  ]]]);
  const later = tick(r.state, T0 + 10 * H, after);
  assert.equal(later.digests.length, 0, 'no "still firing" repeat');
  assert.deepEqual(later.state.groups, {});
});

Deno.test("a silenced resolution also finds its alert after the grouping changed", () => {
  const before: BatcherOptions = { routes: [{ ...ROUTE, groupBy: [] }] };
  const a = alert({ id: "moved2", entity: "db" });
  let r = step(emptyState(), [item(a)], T0, before);
  r = step(r.state, [], T0 + 30 * S, before);
  const silence: Silence = {
    id: "s1",
    matchers: { entity: "db" },
    starts_at: new Date(T0).toISOString(),
    ends_at: new Date(T0 + 2 * H).toISOString(),
    author: "ann",
    comment: "",
    created_at: new Date(T0).toISOString(),
    expired_at: null,
  };
  const after: BatcherOptions = {
    routes: [{ ...ROUTE, groupBy: ["severity"] }],
    silences: [silence],
  };
  const resolvedAt = new Date(T0 + H).toISOString();
  r = step(r.state, [item({ ...a, status: "resolved", resolved_at: resolvedAt })], T0 + H, after);
  const later = tick(r.state, T0 + 10 * H, { routes: after.routes });
  assert.equal(later.digests.length, 0);
  assert.deepEqual(later.state.groups, {});
});

Deno.test("firings are counted for flapping at their detection time, not when taken in", () => {
  // The notifier was down for 3 hours; the detector raised cpu_high on api once an hour.
  // Taken in together, four firings an hour apart are not flapping: the CRITICAL is told now.
  const opts: BatcherOptions = {
    routes: [{ ...ROUTE, criticalImmediate: true }],
    flapThreshold: 3,
  };
  const backlog = [0, 1, 2, 3].map((i) =>
    alert({
      id: `b${i}`,
      entity: "api",
      severity: "CRITICAL",
      detected_at: new Date(T0 + i * 61 * M).toISOString(),
    })
  );
  const now = T0 + 3 * H + 5 * M;
  const r = ingest(emptyState(), backlog.map(item), now, opts);
  const told = r.digests.filter((d) => d.kind === "immediate").length;
  assert.equal(told, 4, "each firing is told at once: none is flapping");
  // Four firings within 30 minutes of detection, taken in later together: flapping.
  const burst = [0, 1, 2, 3].map((i) =>
    alert({
      id: `c${i}`,
      entity: "web",
      severity: "CRITICAL",
      detected_at: new Date(T0 + i * 10 * M).toISOString(),
    })
  );
  const r2 = ingest(emptyState(), burst.map(item), now, opts);
  assert.equal(r2.digests.filter((d) => d.kind === "immediate").length, 3, "the 4th is flapping");
  // A detection time ahead of the notifier's clock counts as now.
  const ahead = alert({ id: "z", entity: "db", detected_at: new Date(now + H).toISOString() });
  const r3 = ingest(emptyState(), [item(ahead)], now, opts);
  assert.deepEqual(r3.state.flaps["metrics|cpu_high|db"], [now]);
});
