import assert from "node:assert/strict";
import { entry, fakeEngine, MIN, rulesWith, run, SEC, T0 } from "../../tools/testing/rules.ts";
import { gaussian, prng } from "../../tools/testing/series.ts";
import { assessEntity, fisherCombine, tippettCombine } from "./entity_score.ts";
import {
  createStatsEngine,
  ENGINE_ALARM_PROBABILITY,
  ENGINE_SCORE_BANDS,
  probabilityToScore,
  type ScoreEngine,
  scoreToProbability,
} from "../score_engine.ts";
import { createEvaluator } from "../evaluator.ts";
import { collectSink } from "./types.ts";

/** A reading whose three measures score `cpu`, `lat` and `err` under the fake engine. */
function reading(cpu: number, lat: number, err: number, service = "api") {
  return { service, cpu: cpu * 128, latency_ms: lat * 128, error_rate: err * 128 };
}

function close(a: number, b: number, rel = 1e-9) {
  assert.ok(Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b)), `${a} vs ${b}`);
}

Deno.test("fisherCombine() is the chi-square tail of −2 Σ ln p", () => {
  close(fisherCombine([0.3]), 0.3);
  // k = 2: P(χ²₄ > x) = e^{−x/2}(1 + x/2), x = −2 ln(p1 p2)
  const x = -2 * Math.log(0.05 * 0.05);
  close(fisherCombine([0.05, 0.05]), Math.exp(-x / 2) * (1 + x / 2));
  close(fisherCombine([0.05, 0.05]), 0.0174787, 1e-5);
  assert.equal(fisherCombine([1, 1, 1]), 1);
  assert.equal(fisherCombine([]), 1);
  const tiny = fisherCombine([1e-12, 1e-12, 1e-12]);
  assert.ok(tiny > 0 && tiny < 1e-30, `no underflow to 0 or rounding to 1: ${tiny}`);
});

Deno.test("fisherCombine() never turns overwhelming evidence into none (many measures)", () => {
  // Its terms x^j / j! overflowed to Infinity from ~166 measures at the alarm level: p = 1, score 0.
  for (const k of [36, 100, 170, 200, 1000]) {
    const p = fisherCombine(Array(k).fill(1e-12));
    assert.ok(p < 1e-12, `${k} measures at p = 1e-12 combine to ${p}`);
    assert.equal(fisherCombine(Array(k).fill(1)), 1);
  }
  const all = Array.from({ length: 200 }, (_, i) => ({ measure: `m${i}`, value: 1, score: 1 }));
  assert.equal(assessEntity(all, "fisher").score, 1);
});

Deno.test("tippettCombine() is the minimum p with Šidák's correction", () => {
  close(tippettCombine([0.01, 0.5]), 1 - 0.99 ** 2);
  close(tippettCombine([1e-12, 0.5, 0.9]), 3e-12, 1e-6);
  assert.equal(tippettCombine([1, 1]), 1);
});

Deno.test("engine scores and tail probabilities convert both ways on the engine's scale", () => {
  assert.equal(scoreToProbability(0), 1);
  close(scoreToProbability(ENGINE_SCORE_BANDS.warning), ENGINE_ALARM_PROBABILITY);
  close(scoreToProbability(1), ENGINE_ALARM_PROBABILITY ** 2);
  // The inverse of the calibration up to its α² offset (which keeps scores
  // below 1): within 0.003 up to the critical band, never above the score.
  for (const s of [0.1, 0.3, 0.5, 0.75, 0.9]) {
    const back = probabilityToScore(scoreToProbability(s));
    assert.ok(back <= s && s - back < 0.003, `score ${s}: ${back}`);
  }
});

Deno.test("assessEntity() adds up moderate evidence (Fisher) and names the measures that drove it", () => {
  const m = (measure: string, score: number) => ({ measure, value: score * 10, score });
  // One measure at the alarm level, two normal: Fisher dilutes it, Tippett corrects it.
  const one = [m("cpu", 0.5), m("latency_ms", 0.03), m("error_rate", 0.03)];
  assert.ok(assessEntity(one, "fisher").score < ENGINE_SCORE_BANDS.warning);
  assert.ok(assessEntity(one, "tippett").score < ENGINE_SCORE_BANDS.warning);
  assert.ok(assessEntity(one, "tippett").score > 0.45, "Šidák costs little for 3 measures");
  // Two moderately raised (no metric alarm alone), one normal: Fisher alarms, Tippett does not.
  const two = [m("cpu", 0.35), m("latency_ms", 0.35), m("error_rate", 0.03)];
  const f = assessEntity(two, "fisher");
  assert.ok(f.score >= ENGINE_SCORE_BANDS.warning, `fisher ${f.score}`);
  assert.ok(assessEntity(two, "tippett").score < ENGINE_SCORE_BANDS.warning);
  assert.deepEqual(f.drivers, ["cpu", "latency_ms"]);
  assert.equal(f.measures[2]!.measure, "error_rate");
  close(f.measures.reduce((a, x) => a + x.share, 0), 1);
  // A new extreme (score 1) on one measure alone drives it.
  const ext = assessEntity([m("cpu", 0.03), m("latency_ms", 1), m("error_rate", 0.03)], "fisher");
  assert.deepEqual(ext.drivers, ["latency_ms"]);
  assert.ok(ext.score >= ENGINE_SCORE_BANDS.warning && ext.score < ENGINE_SCORE_BANDS.critical);
  // Everything normal: far below clear.
  assert.ok(
    assessEntity([m("cpu", 0.03), m("latency_ms", 0.03)], "fisher").score <
      ENGINE_SCORE_BANDS.clear,
  );
});

Deno.test("entity_score fires at the bands with the combined score, once per cooldown, and resolves", () => {
  const r = run("metrics", [
    entry(T0, reading(0.03, 0.03, 0.03)), // normal
    entry(T0 + 10 * SEC, reading(0.35, 0.35, 0.03)), // WARNING (Fisher), no metric_score alarm
    entry(T0 + 20 * SEC, reading(0.36, 0.36, 0.03)), // still true: extends, no second alert
    entry(T0 + 30 * SEC, reading(0.92, 0.92, 0.92)), // CRITICAL
    entry(T0 + 40 * SEC, reading(0.03, 0.03, 0.03)), // below clear: resolves both
  ], { engine: fakeEngine, only: "entity_score" });
  assert.deepEqual(r.firings.map((f) => [f.severity, f.eventTime]), [
    ["WARNING", T0 + 10 * SEC],
    ["CRITICAL", T0 + 30 * SEC],
  ]);
  assert.equal(r.resolutions.length, 2);
  assert.ok(r.resolutions.every((x) => x.at === T0 + 40 * SEC && x.entity === "api"));
  const w = r.firings[0]!;
  assert.equal(w.entity, "api");
  assert.match(w.title, /driven by cpu and latency_ms/);
  assert.match(w.message, /Fisher, p = .*cpu = 44\.8 \(score 0\.35, \d+ %\)/);
  assert.deepEqual(w.details.drivers, ["cpu", "latency_ms"]);
  assert.equal((w.details.measures as unknown[]).length, 3);
  const metric = run("metrics", [entry(T0 + 10 * SEC, reading(0.35, 0.35, 0.03))], {
    engine: fakeEngine,
    only: "metric_score",
  });
  assert.equal(metric.firings.length, 0, "no single measure alarms");
});

Deno.test("entity_score fires exactly at the warning band, not just below it", () => {
  // The combined score of this reading, then bands set exactly on it / just above it.
  const r = reading(0.3, 0.3, 0.1);
  const combined = assessEntity([
    { measure: "cpu", value: r.cpu, score: 0.3 },
    { measure: "latency_ms", value: r.latency_ms, score: 0.3 },
    { measure: "error_rate", value: r.error_rate, score: 0.1 },
  ], "fisher").score;
  for (const [warning, fires] of [[combined, 1], [combined + 1e-9, 0]] as const) {
    const rules = rulesWith({
      metrics: { entity_score: { bands: { warning, critical: 0.99, clear: 0.05 } } },
    });
    const f = run("metrics", [entry(T0, r)], { engine: fakeEngine, rules, only: "entity_score" });
    assert.equal(f.firings.length, fires, `warning ${warning}`);
    if (fires) assert.equal(f.firings[0]!.score, combined);
  }
  // …and a reading between clear and warning neither fires nor resolves.
  const between = assessEntity([
    { measure: "cpu", value: 0, score: 0.3 },
    { measure: "latency_ms", value: 0, score: 0.2 },
    { measure: "error_rate", value: 0, score: 0.03 },
  ], "fisher").score;
  assert.ok(between > 0.3 && between < 0.5, `${between}`);
  const open = run("metrics", [
    entry(T0, reading(0.6, 0.6, 0.6)),
    entry(T0 + SEC, reading(0.3, 0.2, 0.03)),
  ], { engine: fakeEngine, only: "entity_score" });
  assert.equal(open.firings.length, 1);
  assert.equal(open.resolutions.length, 0);
});

Deno.test("entity_score alerts again after the cooldown if still true", () => {
  const events = [0, 2, 4, 5, 6].map((m) => entry(T0 + m * MIN, reading(0.4, 0.4, 0.4)));
  const r = run("metrics", events, { engine: fakeEngine, only: "entity_score" });
  assert.deepEqual(r.firings.map((f) => f.eventTime), [T0, T0 + 5 * MIN]);
});

Deno.test("entity_score needs min_measures scored measures, and only its configured ones", async (t) => {
  await t.step("one measure in the reading: nothing", () => {
    const r = run("metrics", [entry(T0, { service: "api", cpu: 128 })], {
      engine: fakeEngine,
      only: "entity_score",
    });
    assert.equal(r.firings.length, 0);
  });
  await t.step("measures limited to cpu and error_rate", () => {
    const rules = rulesWith({ metrics: { entity_score: { measures: ["cpu", "error_rate"] } } });
    const r = run("metrics", [entry(T0, reading(0.03, 1, 0.03))], {
      engine: fakeEngine,
      rules,
      only: "entity_score",
    });
    assert.equal(r.firings.length, 0, "latency_ms is not combined");
  });
  await t.step("tippett: only the strongest measure counts", () => {
    const rules = rulesWith({ metrics: { entity_score: { method: "tippett" } } });
    const r = run("metrics", [entry(T0, reading(0.35, 0.35, 0.03))], {
      engine: fakeEngine,
      rules,
      only: "entity_score",
    });
    assert.equal(r.firings.length, 0);
  });
  await t.step("disabled, or metric_score disabled: nothing", () => {
    for (
      const patch of [{ entity_score: { enabled: false } }, { metric_score: { enabled: false } }]
    ) {
      const r = run("metrics", [entry(T0, reading(1, 1, 1))], {
        engine: fakeEngine,
        rules: rulesWith({ metrics: patch }),
        only: "entity_score",
      });
      assert.equal(r.firings.length, 0, JSON.stringify(patch));
    }
  });
  await t.step("a bad rules file is refused", () => {
    assert.throws(() => rulesWith({ metrics: { entity_score: { method: "max" } } }), /method/);
    assert.throws(() => rulesWith({ metrics: { entity_score: { min_measures: 1 } } }));
  });
});

Deno.test("entity_score raises one alarm per incident, not one from the engine's capped scores", () => {
  // An outage on every measure of a service (10 s readings): each series alarms once, then the
  // engine caps its scores at 0.3 for its cooldown. Three capped scores combined (Fisher) make
  // 0.69: entity_score raised a WARNING on the very next reading and again every cooldown.
  const noise = gaussian(prng(3));
  const entries = Array.from({ length: 700 }, (_, i) => {
    const bad = i >= 500;
    return entry(T0 + i * 10 * SEC, {
      service: "api",
      cpu: (bad ? 85 : 30) + 2 * noise(),
      latency_ms: (bad ? 900 : 120) + 5 * noise(),
      error_rate: Math.max(0, (bad ? 0.2 : 0.01) + 0.002 * noise()),
    });
  });
  const r = run("metrics", entries, { engine: createStatsEngine() as ScoreEngine<unknown> });
  const at = (rule: string) =>
    r.firings.filter((f) => f.rule === rule).map((f) => [f.severity, (f.eventTime - T0) / 10_000]);
  assert.deepEqual(at("metric_score"), [["CRITICAL", 500], ["CRITICAL", 500], ["CRITICAL", 500]]);
  assert.deepEqual(at("entity_score"), [["CRITICAL", 500]]);
});

Deno.test("entity_score still alarms on fresh evidence beside capped scores", () => {
  // The fake engine's scores, with 0.3 marked as the engine's cap (suppressed).
  const capping: ScoreEngine<unknown> = {
    ...fakeEngine,
    update(state, t, value) {
      const r = fakeEngine.update(state, t, value);
      return { ...r, explanation: { ...r.explanation, suppressed: r.score === 0.3 } };
    },
  };
  const r = run("metrics", [
    entry(T0, reading(1, 1, 1)), // CRITICAL
    entry(T0 + 5 * MIN, reading(0.3, 0.3, 0.3)), // capped only: nothing new, nothing resolved
    entry(T0 + 6 * MIN, reading(0.3, 0.3, 1)), // a fresh alarm on error_rate: fires
    entry(T0 + 7 * MIN, reading(0.3, 0.3, 0.36)), // capped and moderate (0.36 alone < warning)
  ], { engine: capping, only: "entity_score" });
  assert.deepEqual(r.firings.map((f) => [f.severity, f.eventTime]), [
    ["CRITICAL", T0],
    ["CRITICAL", T0 + 6 * MIN],
  ]);
  assert.equal(r.resolutions.length, 1, "the first CRITICAL resolves at its clearAt only");
  // Without the cap marks the same capped readings combine into alarms.
  const plain = run("metrics", [entry(T0, reading(0.3, 0.3, 0.3))], {
    engine: fakeEngine,
    only: "entity_score",
  });
  assert.equal(plain.firings.length, 1);
});

Deno.test("entity_score's episode survives a checkpoint: the reading after restore resolves it", () => {
  const options = { rules: rulesWith({}), engine: fakeEngine };
  const a = createEvaluator("metrics", options);
  const sink = collectSink();
  a.step(entry(T0, reading(0.6, 0.6, 0.6)), sink);
  assert.equal(sink.findings.filter((f) => f.rule === "entity_score").length, 1);
  const b = createEvaluator("metrics", options);
  b.load(JSON.stringify(a.snapshot()));
  const after = collectSink();
  b.step(entry(T0 + 10 * SEC, reading(0.03, 0.03, 0.03)), after);
  const resolved = after.findings.filter((f) => f.rule === "entity_score" && f.kind === "resolved");
  assert.equal(resolved.length, 1);
});

Deno.test("the shipped entity_score bands are the engine's calibration", async () => {
  const { rulesConfigSchema } = await import("../rules_config.ts");
  const defaults = rulesConfigSchema.parse({}).metrics.entity_score;
  assert.deepEqual({ ...defaults.bands }, { ...ENGINE_SCORE_BANDS });
  assert.equal(defaults.method, "fisher");
  const shipped = JSON.parse(
    await Deno.readTextFile(new URL("../../rules.json", import.meta.url)),
  ).metrics.entity_score;
  assert.deepEqual(shipped.bands, { ...ENGINE_SCORE_BANDS });
});
