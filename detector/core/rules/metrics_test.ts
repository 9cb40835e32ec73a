import assert from "node:assert/strict";
import { entry, fakeEngine, MIN, run, SEC, T0 } from "../../tools/testing/rules.ts";
import { collectSink } from "./types.ts";

const reading = (cpu: number, latency_ms = 100, service = "api") => ({ service, cpu, latency_ms });

Deno.test("cpu_sustained fires when every reading is >= 80% over >= 4 minutes", async (t) => {
  const cases = [
    { name: "three readings at 80 over 4 min", cpu: [80, 80, 80], at: [0, 2, 4], fires: 1 },
    { name: "one reading at 79.9", cpu: [85, 79.9, 90], at: [0, 2, 4], fires: 0 },
    { name: "two readings only", cpu: [95, 95], at: [0, 4], fires: 0 },
    { name: "span under 4 minutes", cpu: [95, 95, 95], at: [0, 2, 3.99], fires: 0 },
    {
      name: "fires at the reading completing the span",
      cpu: [81, 82, 83, 84, 85, 86],
      at: [0, 1, 2, 3, 4, 4.5],
      fires: 1,
      readings: [81, 82, 83, 84, 85],
    },
  ];
  for (const c of cases) {
    await t.step(`${c.name} -> ${c.fires}`, () => {
      const events = c.cpu.map((cpu, i) => entry(T0 + c.at[i]! * MIN, reading(cpu)));
      const r = run("metrics", events, { only: "cpu_sustained" });
      assert.equal(r.firings.length, c.fires);
      if (c.fires) {
        assert.equal(r.firings[0]!.severity, "WARNING");
        assert.deepEqual(r.firings[0]!.details.readings, c.readings ?? c.cpu);
      }
    });
  }
});

Deno.test("cpu_sustained only looks at the last 5 minutes and resolves on a low reading", () => {
  // An old low reading (6 min before) is outside the window.
  const events = [
    entry(T0, reading(10)),
    entry(T0 + 2 * MIN, reading(90)),
    entry(T0 + 4 * MIN, reading(90)),
    entry(T0 + 6 * MIN, reading(90)),
  ];
  const r = run("metrics", events, { only: "cpu_sustained" });
  assert.equal(r.firings.length, 1);
  assert.equal(r.firings[0]!.eventTime, T0 + 6 * MIN);
  const low = run("metrics", [entry(T0 + 7 * MIN, reading(50))], {
    evaluator: r.evaluator,
    only: "cpu_sustained",
  });
  assert.equal(low.resolutions.length, 1);
  assert.equal(low.resolutions[0]!.at, T0 + 7 * MIN);
});

Deno.test("latency_high fires above 1000 ms, not at 1000, and resolves when latency is back", async (t) => {
  for (const [latency, fires] of [[1000, 0], [1000.5, 1], [1001, 1], [999, 0]] as const) {
    await t.step(`${latency} ms -> ${fires}`, () => {
      const r = run("metrics", [entry(T0, reading(10, latency))], { only: "latency_high" });
      assert.equal(r.firings.length, fires);
      if (fires) assert.equal(r.firings[0]!.severity, "CRITICAL");
    });
  }
  await t.step("resolved by a normal reading", () => {
    const r = run("metrics", [
      entry(T0, reading(10, 1500)),
      entry(T0 + 10 * SEC, reading(10, 1600)),
      entry(T0 + 20 * SEC, reading(10, 200)),
    ], { only: "latency_high" });
    assert.equal(r.firings.length, 1, "sustained: one alert per cooldown");
    assert.equal(r.resolutions.length, 1);
    assert.equal(r.resolutions[0]!.at, T0 + 20 * SEC);
  });
  await t.step("another service's normal reading does not resolve it", () => {
    const r = run("metrics", [
      entry(T0, reading(10, 1500, "a")),
      entry(T0 + 10 * SEC, reading(10, 200, "b")),
    ], { only: "latency_high" });
    assert.equal(r.resolutions.length, 0);
  });
});

Deno.test("cpu_and_latency needs CPU >= 80 and latency > 1000 in the same reading", async (t) => {
  const cases = [
    { cpu: 80, latency: 1001, fires: 1 },
    { cpu: 79.9, latency: 1001, fires: 0 },
    { cpu: 95, latency: 1000, fires: 0 },
    { cpu: 100, latency: 5000, fires: 1 },
  ];
  for (const c of cases) {
    await t.step(`cpu ${c.cpu}, latency ${c.latency} -> ${c.fires}`, () => {
      const r = run("metrics", [entry(T0, reading(c.cpu, c.latency))], { only: "cpu_and_latency" });
      assert.equal(r.firings.length, c.fires);
      if (c.fires) assert.equal(r.firings[0]!.severity, "CRITICAL");
    });
  }
  await t.step("high CPU and high latency in different readings do not fire", () => {
    const r = run("metrics", [entry(T0, reading(95, 100)), entry(T0 + SEC, reading(10, 2000))], {
      only: "cpu_and_latency",
    });
    assert.equal(r.firings.length, 0);
  });
});

Deno.test("metric_score raises bands from the engine's score and caches every score", () => {
  const r = run("metrics", [
    entry(T0, reading(50, 63.9)), // latency score 0.49921875: below warning
    entry(T0 + SEC, reading(50, 64)), // 0.5: WARNING
    entry(T0 + 2 * SEC, reading(50, 116)), // 0.90625: CRITICAL
    entry(T0 + 3 * SEC, reading(50, 10)), // < clear: resolves both
  ], { engine: fakeEngine, only: "metric_score" });
  assert.deepEqual(r.firings.map((f) => [f.severity, f.details.measure]), [
    ["WARNING", "latency_ms"],
    ["CRITICAL", "latency_ms"],
  ]);
  assert.equal(r.resolutions.length, 2);
  assert.equal(r.scores.length, 8, "cpu and latency_ms scored for each of 4 readings");
  assert.deepEqual(r.scores[1], {
    type: "metrics",
    entity: "api",
    measure: "latency_ms",
    t: T0,
    score: 63.9 / 128,
    value: 63.9,
    // The engine's expected range, for the page's band.
    low: 0,
    high: 50,
  });
});

Deno.test("the shipped metric_score bands are the engine's calibration", async () => {
  const { ENGINE_SCORE_BANDS } = await import("../score_engine.ts");
  const { rulesConfigSchema } = await import("../rules_config.ts");
  const defaults = rulesConfigSchema.parse({}).metrics.metric_score.bands;
  assert.deepEqual({ ...defaults }, { ...ENGINE_SCORE_BANDS });
  const shipped = JSON.parse(
    await Deno.readTextFile(new URL("../../rules.json", import.meta.url)),
  ).metrics.metric_score.bands;
  assert.deepEqual(shipped, { ...ENGINE_SCORE_BANDS });
});

Deno.test("a snapshot keeps the series states of its moment while scoring goes on", async () => {
  const { createEvaluator } = await import("../evaluator.ts");
  const { createStatsEngine } = await import("../score_engine.ts");
  const { DEFAULT_RULES } = await import("../rules_config.ts");
  const evaluator = createEvaluator("metrics", {
    rules: DEFAULT_RULES,
    engine: createStatsEngine(),
  });
  const reading = (i: number) =>
    entry(T0 + i * 10 * SEC, {
      service: `svc${i % 3}`,
      cpu: 20 + (i % 7),
      latency_ms: 100 + (i % 11),
    });
  const sink = collectSink();
  for (let i = 0; i < 300; i++) evaluator.step(reading(i), sink);
  const text = JSON.stringify(evaluator.snapshot());
  const snapshot = evaluator.snapshot();
  for (let i = 300; i < 600; i++) evaluator.step(reading(i), sink);
  assert.equal(JSON.stringify(snapshot), text, "the snapshot did not follow later updates");
  assert.notEqual(JSON.stringify(evaluator.snapshot()), text);
});

Deno.test("metric rules take readings without cpu (the simulator's) for their latency only", () => {
  const noCpu = (latency_ms: number) => ({ service: "api", latency_ms, error_rate: 0.01 });
  // A reading without cpu neither breaks nor joins a sustained-CPU window.
  const sustained = run("metrics", [
    entry(T0, reading(90)),
    entry(T0 + 2 * MIN, reading(90)),
    entry(T0 + 3 * MIN, noCpu(100)),
    entry(T0 + 4 * MIN, reading(90)),
  ], { only: "cpu_sustained" });
  assert.equal(sustained.firings.length, 1);
  assert.deepEqual(sustained.firings[0]!.details.readings, [90, 90, 90]);
  const slow = run("metrics", [entry(T0, noCpu(5000))]);
  assert.deepEqual(slow.firings.map((f) => f.rule), ["latency_high"]);
});

Deno.test("cpu_and_latency: a reading without cpu clears it only by its latency", async (t) => {
  const noCpu = (latency_ms: number) => ({ service: "api", latency_ms, error_rate: 0.01 });
  await t.step("a slow reading without cpu says nothing of CPU: still open", () => {
    // It resolved the anomaly with `resolved_value` 5000: "back under the threshold".
    const r = run("metrics", [entry(T0, reading(95, 1500)), entry(T0 + 10 * SEC, noCpu(5000))], {
      only: "cpu_and_latency",
    });
    assert.equal(r.firings.length, 1);
    assert.deepEqual(r.resolutions, []);
  });
  await t.step("a fast reading without cpu: latency back under the threshold, resolved", () => {
    const r = run("metrics", [entry(T0, reading(95, 1500)), entry(T0 + 10 * SEC, noCpu(300))], {
      only: "cpu_and_latency",
    });
    assert.deepEqual(r.resolutions.map((x) => [x.at, x.value]), [[T0 + 10 * SEC, 300]]);
  });
});

Deno.test("a sustained condition stays one episode while it holds: readings a minute apart at 95%", () => {
  // The window lost its oldest reading at the very instant the next one came: resolving
  // there made a firing/resolved pair every cooldown (5 min) for a CPU that never came down.
  const events = Array.from({ length: 21 }, (_, i) => entry(T0 + i * MIN, reading(95)));
  events.push(entry(T0 + 21 * MIN, reading(20)));
  const r = run("metrics", events, { only: "cpu_sustained" });
  // Once per cooldown while it holds, one resolution (of every open id) when it clears.
  assert.deepEqual(r.firings.map((f) => (f.eventTime - T0) / MIN), [4, 9, 14, 19]);
  assert.equal(r.resolutions.length, 1);
  assert.equal(r.resolutions[0]!.at, T0 + 21 * MIN, "resolved by the low reading");
  assert.deepEqual(r.resolutions[0]!.ids, r.firings.map((f) => f.id));
});
