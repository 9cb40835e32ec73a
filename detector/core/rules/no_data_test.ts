import assert from "node:assert/strict";
import { createEvaluator } from "../evaluator.ts";
import { entry, MIN, rulesWith, run, SEC, T0 } from "../../tools/testing/rules.ts";
import type { ParsedEntry } from "../entry.ts";
import { collectSink } from "./types.ts";

const metric = (service: string, t: number) => entry(t, { service, cpu: 20, latency_ms: 100 });

/** Readings every 30 s of each service over [from, to] (minutes after T0), in time order. */
function readings(services: string[], from: number, to: number): ParsedEntry[] {
  const out: ParsedEntry[] = [];
  for (let t = T0 + from * MIN; t <= T0 + to * MIN; t += 30 * SEC) {
    for (const s of services) out.push(metric(s, t));
  }
  return out;
}

const watched = rulesWith({ no_data: { metrics: { enabled: true, after: "2m" } } });

Deno.test("no_data fires once for an entity silent for `after` while others report, resolves when it returns", () => {
  const events = [...readings(["a", "b"], 0, 1), ...readings(["b"], 1.5, 5)];
  const r = run("metrics", events, { rules: watched, only: "no_data" });
  assert.equal(r.firings.length, 1);
  const f = r.firings[0]!;
  assert.equal(f.entity, "a");
  assert.equal(f.severity, "WARNING");
  assert.equal(f.eventTime, T0 + 3 * MIN, "last reading at 1 min + 2 min");
  assert.equal(f.details.last_seen, new Date(T0 + MIN).toISOString());
  assert.match(f.title, /No metrics from a for 2 min/);
  assert.equal(r.resolutions.length, 0);

  const back = run("metrics", [metric("a", T0 + 5.5 * MIN)], {
    evaluator: r.evaluator,
    only: "no_data",
  });
  assert.equal(back.firings.length, 0);
  assert.equal(back.resolutions.length, 1);
  assert.deepEqual(back.resolutions[0]!.ids, [f.id]);
  assert.equal(back.resolutions[0]!.at, T0 + 5.5 * MIN);
});

Deno.test("no_data does not depend on batching: one sweep at the end gives the same anomaly", () => {
  const events = [...readings(["a", "b"], 0, 1), ...readings(["b"], 1.5, 5)];
  const perEntry = run("metrics", events, { rules: watched, only: "no_data" }).firings;
  const ev = createEvaluator("metrics", { rules: watched, engine: null });
  const sink = collectSink();
  for (const e of events) ev.step(e, sink);
  ev.sweep(sink);
  const once = sink.findings.filter((f) => f.rule === "no_data" && f.kind === "firing");
  assert.deepEqual(once.map((f) => f.kind === "firing" && f.id), perEntry.map((f) => f.id));
});

Deno.test("no_data: a whole-stream gap alerts no entity; silence counts from the resumption", () => {
  const events = [
    ...readings(["a", "b", "c"], 0, 1),
    ...readings(["a", "b", "c"], 10, 10.5), // the stream was quiet 9 minutes
    ...readings(["b", "c"], 11, 13),
  ];
  const r = run("metrics", events, { rules: watched, only: "no_data" });
  assert.deepEqual(r.firings.map((f) => [f.entity, f.eventTime]), [["a", T0 + 12.5 * MIN]]);
  // Resumed with only some entities: the others get `after` from the resumption.
  const partial = run("metrics", [
    ...readings(["a", "b"], 0, 1),
    ...readings(["b"], 10, 13),
  ], { rules: watched, only: "no_data" });
  assert.deepEqual(partial.firings.map((f) => [f.entity, f.eventTime]), [["a", T0 + 12 * MIN]]);
});

Deno.test("no_data entries: own silence time, left out, or watched with the type's watch off", () => {
  const rules = rulesWith({
    no_data: {
      metrics: { enabled: true, after: "2m" },
      entities: [
        { type: "metrics", entity: "slow", after: "5m" },
        { type: "metrics", entity: "batch", enabled: false },
      ],
    },
  });
  const events = [...readings(["slow", "batch", "b"], 0, 1), ...readings(["b"], 1.5, 7)];
  const r = run("metrics", events, { rules, only: "no_data" });
  assert.deepEqual(r.firings.map((f) => [f.entity, f.eventTime]), [["slow", T0 + 6 * MIN]]);

  const entryOnly = rulesWith({
    no_data: { entities: [{ type: "metrics", entity: "expected", after: "3m" }] },
  });
  const e = run("metrics", readings(["a"], 0, 4), { rules: entryOnly, only: "no_data" });
  assert.deepEqual(
    e.firings.map((f) => [f.entity, f.eventTime]),
    [["expected", T0 + 3 * MIN]],
    "never reported: watched from the stream's first event; a (no entry) is not watched",
  );
  assert.equal(
    run("metrics", readings(["a"], 0, 4), { only: "no_data" }).findings.length,
    0,
    "off by default",
  );
});

Deno.test("no_data survives a checkpoint and forgets an entity after forget_after", () => {
  const rules = rulesWith({
    no_data: { metrics: { enabled: true, after: "2m" }, forget_after: "10m" },
  });
  const first = run("metrics", [...readings(["a", "b"], 0, 1), ...readings(["b"], 1.5, 2)], {
    rules,
    only: "no_data",
  });
  const saved = JSON.stringify(first.evaluator.snapshot());
  const restored = createEvaluator("metrics", { rules, engine: null });
  restored.load(saved);
  const r = run("metrics", readings(["b"], 2.5, 12), { evaluator: restored, only: "no_data" });
  assert.equal(r.firings.length, 1, "fired once after the restore");
  assert.equal(r.firings[0]!.entity, "a");
  assert.equal(r.resolutions.length, 1, "forgotten 10 min after its last reading: resolved");
  assert.equal(r.resolutions[0]!.at, T0 + 11 * MIN);
  const later = run("metrics", readings(["b"], 12.5, 20), { evaluator: restored, only: "no_data" });
  assert.equal(later.findings.length, 0, "a forgotten entity alerts no more");
});

Deno.test("no_data of transactions follows the status", () => {
  const rules = rulesWith({ no_data: { transactions: { enabled: true, after: "2m" } } });
  let n = 0;
  const tx = (status: string, t: number) =>
    entry(t, { transaction_id: `t${++n}`, user_id: `u${n}`, amount: 1, currency: "EUR", status });
  const events: ParsedEntry[] = [];
  for (let t = T0; t <= T0 + 5 * MIN; t += 20 * SEC) {
    events.push(tx("approved", t));
    if (t <= T0 + MIN) events.push(tx("denied", t + 1));
  }
  const r = run("transactions", events, { rules, only: "no_data" });
  assert.deepEqual(r.firings.map((f) => f.entity), ["denied"]);
});

Deno.test("no_data: an entry added later (a reload, a restart with a new file) is watched from then", () => {
  // Entries were seeded at the stream's first event only: one added afterwards that never
  // reported was never watched, so it never alerted.
  const before = rulesWith({ no_data: { metrics: { enabled: true, after: "2m" } } });
  const after = rulesWith({
    no_data: {
      metrics: { enabled: true, after: "2m" },
      entities: [{ type: "metrics", entity: "expected", after: "3m" }],
    },
  });
  const first = run("metrics", readings(["a"], 0, 2), { rules: before, only: "no_data" });
  const saved = JSON.stringify(first.evaluator.snapshot());
  const reloaded = first.evaluator;
  reloaded.reconfigure(after);
  const r = run("metrics", readings(["a"], 2.5, 7), { evaluator: reloaded, only: "no_data" });
  assert.deepEqual(r.firings.map((f) => [f.entity, f.eventTime]), [["expected", T0 + 5.5 * MIN]]);

  const restored = createEvaluator("metrics", { rules: after, engine: null });
  restored.load(saved);
  const s = run("metrics", readings(["a"], 2.5, 7), { evaluator: restored, only: "no_data" });
  assert.deepEqual(s.firings.map((f) => [f.entity, f.eventTime]), [["expected", T0 + 5.5 * MIN]]);
});

Deno.test("no_data does not depend on batching when the silence ends or the stream pauses within a batch", async (t) => {
  const findingsOf = (events: ParsedEntry[], perEntry: boolean) => {
    const ev = createEvaluator("metrics", { rules: watched, engine: null });
    const sink = collectSink();
    for (const e of events) {
      ev.step(e, sink);
      if (perEntry) ev.sweep(sink);
    }
    ev.sweep(sink);
    return sink.findings.filter((f) => f.rule === "no_data")
      .map((f) => [f.kind, f.entity, f.kind === "firing" ? f.eventTime : f.at]);
  };
  await t.step("a silent for 3 min, then back, all in one batch", () => {
    // One sweep at the end saw a reporting again and never raised its silence.
    const events = [
      ...readings(["a", "b"], 0, 1),
      ...readings(["b"], 1.5, 4),
      ...readings(["a", "b"], 4.5, 5),
    ];
    const each = findingsOf(events, true);
    assert.deepEqual(each, [["firing", "a", T0 + 3 * MIN], ["resolved", "a", T0 + 4.5 * MIN]]);
    assert.deepEqual(findingsOf(events, false), each);
  });
  await t.step("a silent while b reports, then the whole stream pauses, in one batch", () => {
    // The pause moved the silence's start past a's alert before the sweep came.
    const events = [
      ...readings(["a", "b"], 0, 1),
      ...readings(["b"], 1.5, 5),
      ...readings(["a", "b"], 20, 21),
    ];
    const each = findingsOf(events, true);
    assert.deepEqual(each.slice(0, 1), [["firing", "a", T0 + 3 * MIN]]);
    assert.deepEqual(findingsOf(events, false), each);
  });
  await t.step("a silent while b reports, then a late reading of a, in one batch", () => {
    // An agent that buffers: a's reading of 1.25 min arrives at 4 min. Judged at its own time,
    // not at the watermark, it hid a's silence from the batch's sweep, which then raised another
    // anomaly (another id: a replay with other batch boundaries stored a second one).
    const events = [
      ...readings(["a", "b"], 0, 1),
      ...readings(["b"], 1.5, 4),
      metric("a", T0 + 1.25 * MIN),
      ...readings(["b"], 4.5, 5),
    ];
    const ids = (perEntry: boolean) => {
      const ev = createEvaluator("metrics", { rules: watched, engine: null });
      const sink = collectSink();
      for (const e of events) {
        ev.step(e, sink);
        if (perEntry) ev.sweep(sink);
      }
      ev.sweep(sink);
      return sink.findings.filter((f) => f.rule === "no_data" && f.kind === "firing")
        .map((f) => f.kind === "firing" && f.id);
    };
    const each = findingsOf(events, true);
    // The late reading says nothing of a after 1.25 min: the alert stays open.
    assert.deepEqual(each, [["firing", "a", T0 + 3 * MIN]]);
    assert.deepEqual(findingsOf(events, false), each);
    assert.deepEqual(ids(false), ids(true));
  });
});

Deno.test("no_data does not depend on batching when a batch spans forget_after", async (t) => {
  const rules = rulesWith({
    no_data: { metrics: { enabled: true, after: "2m" }, forget_after: "10m" },
  });
  const findingsOf = (events: ParsedEntry[], batch: number) => {
    const ev = createEvaluator("metrics", { rules, engine: null });
    const sink = collectSink();
    for (let i = 0; i < events.length; i += batch) {
      for (const e of events.slice(i, i + batch)) ev.step(e, sink);
      ev.sweep(sink);
    }
    return sink.findings.filter((f) => f.rule === "no_data")
      .map((f) => [f.kind, f.entity, f.kind === "firing" ? f.eventTime : f.at]);
  };
  await t.step("a silent for 12 min while b reports", () => {
    // One sweep at the end forgot a before raising its silence: no alert at all; and the
    // resolution was stamped with the watermark of whichever sweep forgot it.
    const events = [...readings(["a", "b"], 0, 0), ...readings(["b"], 0.5, 12)];
    const expected = [["firing", "a", T0 + 2 * MIN], ["resolved", "a", T0 + 10 * MIN]];
    for (const batch of [1, 7, 100]) {
      assert.deepEqual(findingsOf(events, batch), expected, `batch ${batch}`);
    }
  });
  await t.step("a silent for 12 min, then back, in one batch", () => {
    // Forgotten at 10 min: back at 12.5 min it is a new entity, its alert already resolved.
    const events = [
      ...readings(["a", "b"], 0, 0),
      ...readings(["b"], 0.5, 12),
      ...readings(["a", "b"], 12.5, 13),
    ];
    const expected = [["firing", "a", T0 + 2 * MIN], ["resolved", "a", T0 + 10 * MIN]];
    for (const batch of [1, 7, 100]) {
      assert.deepEqual(findingsOf(events, batch), expected, `batch ${batch}`);
    }
  });
  await t.step("a silent for 12 min, then the whole stream pauses, in one batch", () => {
    const events = [
      ...readings(["a", "b"], 0, 0),
      ...readings(["b"], 0.5, 12),
      ...readings(["b"], 30, 31),
    ];
    const expected = [["firing", "a", T0 + 2 * MIN], ["resolved", "a", T0 + 10 * MIN]];
    for (const batch of [1, 7, 100]) {
      assert.deepEqual(findingsOf(events, batch), expected, `batch ${batch}`);
    }
  });
});
