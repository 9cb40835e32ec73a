import assert from "node:assert/strict";
import { entry, MIN, rulesWith, run, SEC, T0 } from "../../tools/testing/rules.ts";
import { createEvaluator } from "../evaluator.ts";
import { DEFAULT_RULES } from "../rules_config.ts";
import { assessStatus, BaselineCache } from "./status_zscore.ts";
import { collectSink } from "./types.ts";

const c = DEFAULT_RULES.transactions.status_zscore;
const M0 = Math.floor(T0 / MIN);

/** State with `minutes` of history of `perMinute` approved per minute. */
function history(minutes: number, perMinute: (m: number) => number, status = "approved") {
  const counts = new Map<string, Map<number, number>>([[status, new Map()]]);
  for (let m = 0; m < minutes; m++) counts.get(status)!.set(M0 + m, perMinute(m));
  return { first: M0, counts };
}

Deno.test("assessStatus() scores against the previous 60 minutes with std floored at 1", async (t) => {
  const state = history(60, () => 10); // mean 10, std 0 -> divisor 1
  const cases = [
    { count: 12, z: 2, severity: null },
    { count: 12.5, z: 2.5, severity: null }, // not above 2.5
    { count: 13, z: 3, severity: "WARNING" },
    { count: 14, z: 4, severity: "WARNING" }, // not above 4.0
    { count: 15, z: 5, severity: "CRITICAL" },
    { count: 0, z: -10, severity: null },
  ];
  for (const x of cases) {
    await t.step(`count ${x.count} -> z ${x.z}, ${x.severity}`, () => {
      const a = assessStatus(state, c, { status: "approved", minute: M0 + 60, count: x.count });
      assert.equal(a.z, x.z);
      assert.equal(a.severity, x.severity);
      assert.equal(a.mean, 10);
      assert.equal(a.std, 0);
      assert.equal(a.baseline_minutes, 60);
    });
  }
  await t.step("uses the real std when above 1", () => {
    const s = history(60, (m) => (m % 2 ? 14 : 6)); // mean 10, std 4
    const a = assessStatus(s, c, { status: "approved", minute: M0 + 60, count: 30 });
    assert.equal(a.mean, 10);
    assert.equal(a.std, 4);
    assert.equal(a.z, 5);
    assert.equal(a.severity, "CRITICAL");
  });
  await t.step("only the previous 60 minutes count", () => {
    const s = history(90, (m) => (m < 30 ? 1000 : 10));
    const a = assessStatus(s, c, { status: "approved", minute: M0 + 90, count: 10 });
    assert.equal(a.mean, 10);
  });
});

Deno.test("assessStatus() needs 30 minutes of history; problem statuses are CRITICAL without it", async (t) => {
  await t.step("29 minutes: no baseline", () => {
    const s = history(29, () => 10);
    const a = assessStatus(s, c, { status: "approved", minute: M0 + 29, count: 500 });
    assert.equal(a.severity, null);
    assert.equal(a.z, null);
    assert.match(a.reason, /no baseline/);
  });
  await t.step("30 minutes: baseline", () => {
    const s = history(30, () => 10);
    const a = assessStatus(s, c, { status: "approved", minute: M0 + 30, count: 20 });
    assert.equal(a.baseline_minutes, 30);
    assert.equal(a.severity, "CRITICAL");
  });
  for (const status of ["denied", "failed", "reversed", "backend_reversed"]) {
    await t.step(`${status} without baseline: CRITICAL for count > 0 only`, () => {
      const s = history(5, () => 10);
      assert.equal(assessStatus(s, c, { status, minute: M0 + 5, count: 1 }).severity, "CRITICAL");
      assert.equal(assessStatus(s, c, { status, minute: M0 + 5, count: 0 }).severity, null);
    });
  }
  await t.step("a problem status with a baseline is scored by z", () => {
    const s = history(40, () => 3, "failed");
    assert.equal(
      assessStatus(s, c, { status: "failed", minute: M0 + 40, count: 4 }).severity,
      null,
    );
  });
});

Deno.test("status_zscore fires during a burst and resolves after a quiet minute", () => {
  let k = 0;
  const tx = (t: number, status: string) =>
    entry(t, { transaction_id: `t${++k}`, user_id: `u${k}`, amount: 5, currency: "EUR", status });
  const events = [];
  // 40 minutes of 10 approved/min.
  for (let m = 0; m < 40; m++) {
    for (let i = 0; i < 10; i++) events.push(tx(T0 + m * MIN + i * 5 * SEC, "approved"));
  }
  const quiet = run("transactions", events, { only: "status_zscore" });
  assert.equal(quiet.firings.length, 0, "steady traffic: no anomaly");
  // Minute 40: 30 approved -> z = 20: CRITICAL (WARNING first as the count passes 12.5).
  const burst = [];
  for (let i = 0; i < 30; i++) burst.push(tx(T0 + 40 * MIN + i * SEC, "approved"));
  const r = run("transactions", burst, { evaluator: quiet.evaluator, only: "status_zscore" });
  assert.deepEqual(r.firings.map((f) => f.severity), ["WARNING", "CRITICAL"]);
  assert.equal(r.firings[1]!.entity, "approved");
  assert.equal(r.firings[1]!.details.count, 15);
  // Minute 41 normal, then time passes the end of minute 41.
  const calm = [];
  for (let i = 0; i < 10; i++) calm.push(tx(T0 + 41 * MIN + i * 5 * SEC, "approved"));
  calm.push(tx(T0 + 42 * MIN + SEC, "approved"));
  const after = run("transactions", calm, { evaluator: quiet.evaluator, only: "status_zscore" });
  assert.equal(after.firings.length, 0);
  assert.equal(after.resolutions.length, 2);
  assert.equal(after.resolutions[0]!.at, T0 + 42 * MIN);
});

Deno.test("status_zscore resolves after a whole normal minute, also when the next anomalous one starts at :00.000", () => {
  let k = 0;
  const tx = (t: number, status: string) =>
    entry(t, { transaction_id: `z${++k}`, user_id: `u${k}`, amount: 5, currency: "EUR", status });
  const rules = rulesWith({ cooldown: "1m" });
  // No baseline yet: any failed transaction is CRITICAL. Minute 0 failed, minute 1 normal,
  // minute 2 failed from its first millisecond (timestamps to the second land there often).
  const findings = (third: number) =>
    run("transactions", [
      tx(T0, "failed"),
      tx(T0 + MIN + 30 * SEC, "approved"),
      tx(third, "failed"),
      tx(T0 + 2 * MIN + 30 * SEC, "approved"),
    ], { rules, only: "status_zscore" }).findings
      .map((f) => [f.kind, f.kind === "firing" ? f.eventTime : f.at]);
  // The anomaly of minute 0 resolves when minute 1 ends; the failure of minute 2 is a new one.
  assert.deepEqual(findings(T0 + 2 * MIN + 1), [
    ["firing", T0],
    ["resolved", T0 + 2 * MIN],
    ["firing", T0 + 2 * MIN + 1],
  ]);
  assert.deepEqual(findings(T0 + 2 * MIN), [
    ["firing", T0],
    ["resolved", T0 + 2 * MIN],
    ["firing", T0 + 2 * MIN],
  ]);
});

Deno.test("status_zscore: failed transactions without a baseline are CRITICAL once per cooldown", () => {
  let k = 0;
  const events = [];
  for (let i = 0; i < 8; i++) {
    events.push(entry(T0 + i * 10 * SEC, {
      transaction_id: `f${++k}`,
      user_id: `u${k}`,
      amount: 5,
      currency: "EUR",
      status: i < 2 ? "approved" : "failed",
    }));
  }
  const r = run("transactions", events, { only: "status_zscore" });
  assert.deepEqual(r.firings.map((f) => [f.entity, f.severity, f.score]), [[
    "failed",
    "CRITICAL",
    null,
  ]]);
});

Deno.test("status_zscore gives the same findings with and without its baseline cache", async () => {
  const { statusZScoreRule } = await import("./status_zscore.ts");
  const fast = statusZScoreRule(c, 5 * MIN);
  const reference = statusZScoreRule(c, 5 * MIN, { baselineCache: false });
  const states = [fast.init(), reference.init()];
  // A seeded stream over 150 minutes: steady approvals, denied/failed bursts,
  // late events up to 70 minutes back, sweeps every 40 events.
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  let watermark = -Infinity;
  const found: unknown[][] = [[], []];
  // Few events per minute, many late ones: a stale baseline would change severities.
  for (let i = 0; i < 1500; i++) {
    const late = random() < 0.25;
    const base = T0 + (i / 1500) * 150 * MIN;
    const t = Math.round(late ? base - random() * 70 * MIN : base);
    const burst = Math.floor(base / MIN) % 37 === 36;
    const r = random();
    const status = burst && r < 0.6
      ? "failed"
      : r < 0.9
      ? "approved"
      : r < 0.97
      ? "denied"
      : "failed";
    watermark = Math.max(watermark, t);
    const input = {
      event: { status } as never,
      t,
      ref: { id: `${t}-${i}`, partition: 0, offset: String(i) },
      ingestTs: t,
      traceId: null,
      watermark,
    };
    for (const [k, rule] of [fast, reference].entries()) {
      const sink = { findings: [], scores: [], owns: () => true };
      rule.step(states[k]!, input, sink);
      if (i % 40 === 39) rule.sweep(states[k]!, watermark, sink);
      found[k]!.push(...sink.findings, ...sink.scores);
    }
  }
  assert.ok(found[1]!.length > 20, `${found[1]!.length} findings and scores`);
  assert.deepEqual(found[0], found[1]);
});

Deno.test("BaselineCache.severity() equals assessStatus() through late writes and drops", () => {
  let seed = 11;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const statuses = ["approved", "denied", "failed"];
  const state = {
    first: null as number | null,
    keptFrom: null as number | null,
    counts: new Map<string, Map<number, number>>(),
  };
  const cache = new BaselineCache();
  let current = M0;
  let checked = 0, flagged = 0;
  for (let i = 0; i < 20_000; i++) {
    if (random() < 0.02) current++;
    const minute = random() < 0.3 ? current - Math.floor(random() * 70) : current;
    const status = statuses[Math.floor(random() * 3)]!;
    if (state.first === null || minute < state.first) state.first = minute;
    let perMinute = state.counts.get(status);
    if (!perMinute) state.counts.set(status, perMinute = new Map());
    const count = (perMinute.get(minute) ?? 0) + 1 + (random() < 0.05 ? 20 : 0);
    perMinute.set(minute, count);
    cache.written(status, minute);
    if (random() < 0.01) {
      for (const pm of state.counts.values()) {
        for (const m of pm.keys()) if (m < current - 62) pm.delete(m);
      }
      // As the rule's sweep: no baseline reaches before the oldest minute still held.
      state.keptFrom = Math.max(state.keptFrom ?? -Infinity, current - 62);
      cache.clear();
    }
    // Ask about the written minute or the current one (a cached baseline a late write changed).
    const q = random() < 0.5 ? minute : current;
    const n = q === minute ? count : (perMinute.get(q) ?? 0) + 1;
    const got = cache.severity(state, c, status, q, n);
    const want = assessStatus(state, c, { status, minute: q, count: n }).severity;
    assert.equal(got, want, `event ${i}: ${status} minute ${q - M0} count ${n}`);
    checked++;
    if (want !== null) flagged++;
  }
  assert.equal(checked, 20_000);
  assert.ok(flagged > 100 && flagged < 19_000, `${flagged} flagged`);
});

Deno.test("the count_z scores cover every completed minute, however the entries are batched", () => {
  // A batch spanning more than 5 minutes of event time (catch-up after lag) skipped minutes.
  const entries = Array.from(
    { length: 1500 },
    (_, i) =>
      entry(T0 + i * 2 * SEC, {
        transaction_id: `t${i}`,
        user_id: "u",
        amount: 5,
        currency: "USD",
        status: "approved",
      }),
  );
  const minutes = (batch: number) => {
    const evaluator = createEvaluator("transactions", { rules: DEFAULT_RULES, engine: null });
    const sink = collectSink();
    entries.forEach((e, i) => {
      evaluator.step(e, sink);
      if ((i + 1) % batch === 0 || i === entries.length - 1) evaluator.sweep(sink);
    });
    return sink.scores.filter((p) => p.measure === "count_z").map((p) => (p.t - T0) / MIN);
  };
  const each = minutes(1);
  assert.ok(each.length >= 15, `${each.length} minutes scored`);
  assert.deepEqual(minutes(500), each);
});

Deno.test("status_zscore: a late transaction is scored against its minute's whole baseline", () => {
  // 2 hours of 100 approved a minute (spread over each minute), then one approved transaction of
  // 55 minutes ago: accepted as late (its minute is within the last 60). Its minute's baseline
  // reaches 115 minutes back; with only 62 minutes of counts kept, the 53 dropped minutes counted
  // as empty and the late transaction raised a false alarm (z ≈ 2.8).
  const approved = { user_id: "u1", amount: 5, currency: "EUR", status: "approved" };
  const events = [];
  for (let m = 0; m < 120; m++) {
    for (let i = 0; i < 100; i++) {
      events.push(entry(T0 + m * MIN + i * 600, { transaction_id: `s${m}-${i}`, ...approved }));
    }
  }
  events.push(entry(T0 + 65 * MIN + 30 * SEC, { transaction_id: "late", ...approved }));
  const r = run("transactions", events, { only: "status_zscore" });
  assert.deepEqual(r.firings.map((f) => [f.severity, f.details.z]), []);
});

Deno.test("status_zscore: raising baseline_minutes never counts dropped minutes as empty", async (t) => {
  // 300 minutes of a steady 10 approved/min under baseline_minutes 60 (counts kept 122 minutes),
  // then baseline_minutes 240 and a spike to 20 in minute 300. The 118 minutes dropped before the
  // raise counted as 0 in the new baseline (mean 5.1, std 5.0): WARNING at 18, no CRITICAL.
  let k = 0;
  const tx = (t: number, status = "approved") =>
    entry(t, { transaction_id: `r${++k}`, user_id: "u", amount: 5, currency: "EUR", status });
  const steady: ReturnType<typeof tx>[] = [];
  for (let m = 0; m < 300; m++) {
    for (let i = 0; i < 10; i++) steady.push(tx(T0 + m * MIN + i * 5 * SEC));
  }
  const raised = rulesWith({ transactions: { status_zscore: { baseline_minutes: 240 } } });
  const spike = () => Array.from({ length: 20 }, (_, i) => tx(T0 + 300 * MIN + i * SEC));
  const expectSpike = (evaluator: ReturnType<typeof createEvaluator>) => {
    const r = run("transactions", spike(), { evaluator, only: "status_zscore" });
    const got = r.firings.map((f) => [f.severity, f.details.count, f.details.mean, f.details.std]);
    assert.deepEqual(got, [["WARNING", 13, 10, 0], ["CRITICAL", 15, 10, 0]]);
  };
  const before = () => run("transactions", steady, { only: "status_zscore" }).evaluator;
  await t.step("live reload", () => {
    const evaluator = before();
    assert.deepEqual(evaluator.reconfigure(raised).changed, ["status_zscore"]);
    expectSpike(evaluator);
  });
  await t.step("restart from a checkpoint, also one written without keptFrom", () => {
    const saved = JSON.stringify(before().snapshot());
    const old = JSON.parse(saved);
    delete old.rules.status_zscore.keptFrom;
    for (const text of [saved, JSON.stringify(old)]) {
      const evaluator = createEvaluator("transactions", { rules: raised, engine: null });
      assert.deepEqual(evaluator.load(text), []);
      expectSpike(evaluator);
    }
  });
  await t.step("a late minute whose baseline was dropped is not scored (no false alarm)", () => {
    const evaluator = before();
    evaluator.reconfigure(raised);
    // Minute 100: within the new 240-minute late horizon, but its baseline's counts are gone.
    const r = run("transactions", [tx(T0 + 100 * MIN, "failed")], {
      evaluator,
      only: "status_zscore",
    });
    assert.deepEqual(r.firings, []);
    const state = evaluator.ruleState("status_zscore") as Parameters<typeof assessStatus>[0];
    const a = assessStatus(state, raised.transactions.status_zscore, {
      status: "failed",
      minute: M0 + 100,
      count: 1,
    });
    assert.equal(a.severity, null);
    assert.equal(a.z, null);
    assert.match(a.reason, /not scored: the counts before .* are no longer held/);
  });
});
