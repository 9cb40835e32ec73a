import assert from "node:assert/strict";
import { entry, fakeEngine, MIN, run, SEC, T0 } from "../../tools/testing/rules.ts";
import { conditionFalse, conditionTrue, type EpisodeBook, sweepEpisodes } from "./episodes.ts";
import type { Finding, Resolution } from "./types.ts";

function reading(cpu: number | undefined, latency_ms = 100, service = "api") {
  return cpu === undefined ? { service, latency_ms } : { service, cpu, latency_ms };
}

const KEY = { rule: "r", type: "metrics", entity: "api", severity: "WARNING" } as const;

Deno.test("conditionFalse() carries the clearing reading; a sweep resolves without a value", () => {
  const book: EpisodeBook = new Map();
  const out: Finding[] = [];
  conditionTrue(book, KEY, { t: 0, clearAt: 100, refId: "1-0", cooldownMs: 100 }, out);
  let asked = 0;
  const clearing = () => (asked++, { value: 320, details: { latency_ms: 320 } });
  conditionFalse(book, "api", 50, out, clearing);
  const r = out.at(-1) as Resolution;
  assert.equal(r.kind, "resolved");
  assert.equal(r.value, 320);
  assert.deepEqual(r.details, { latency_ms: 320 });
  // Nothing open any more: the reading is not even computed.
  conditionFalse(book, "api", 60, out, clearing);
  assert.equal(asked, 1);
  assert.equal(out.length, 1);

  conditionTrue(book, KEY, { t: 200, clearAt: 300, refId: "2-0", cooldownMs: 100 }, out);
  sweepEpisodes(book, 300, 0, out);
  assert.equal(out.length, 1, "not at clearAt itself: an event at that instant may extend it");
  sweepEpisodes(book, 301, 0, out);
  const swept = out.at(-1) as Resolution;
  assert.equal(swept.at, 300);
  assert.equal("value" in swept, false, "resolved by time: no value");
});

Deno.test("latency_high and cpu_and_latency resolve at the reading back under the threshold", async (t) => {
  await t.step("latency_high", () => {
    const r = run("metrics", [
      entry(T0, reading(10, 1500)),
      entry(T0 + 10 * SEC, reading(10, 320)),
    ], { only: "latency_high" });
    assert.equal(r.resolutions.length, 1);
    assert.equal(r.resolutions[0]!.value, 320);
    assert.deepEqual(r.resolutions[0]!.details, { latency_ms: 320 });
  });
  await t.step("cpu_and_latency cleared by CPU: both readings kept", () => {
    const r = run("metrics", [
      entry(T0, reading(95, 1500)),
      entry(T0 + 10 * SEC, reading(40, 1400)),
    ], { only: "cpu_and_latency" });
    assert.equal(r.resolutions.length, 1);
    assert.equal(r.resolutions[0]!.value, 1400);
    assert.deepEqual(r.resolutions[0]!.details, { cpu: 40, latency_ms: 1400 });
  });
});

Deno.test("cpu_sustained resolves at the reading that broke the run", () => {
  const r = run("metrics", [
    entry(T0, reading(90)),
    entry(T0 + 2 * MIN, reading(90)),
    entry(T0 + 4 * MIN, reading(90)),
    entry(T0 + 5 * MIN, reading(42.5)),
  ], { only: "cpu_sustained" });
  assert.equal(r.firings.length, 1);
  assert.equal(r.resolutions.length, 1);
  assert.equal(r.resolutions[0]!.at, T0 + 5 * MIN);
  assert.equal(r.resolutions[0]!.value, 42.5);
});

Deno.test("cpu_sustained cleared by time carries no value, also when a high reading comes at that instant", () => {
  // Readings at 0, 2 and 4 min fire at 4 min; the one of 0 min leaves the window at 5 min, and
  // two readings are too few: cleared by time at 5 min. A 95 % reading at 5 min did not clear
  // it (it is no reading back under the threshold): it said `resolved_value` 95 and `min_cpu` 95,
  // where 1 ms later it says nothing.
  for (const t of [T0 + 5 * MIN, T0 + 5 * MIN + 1]) {
    const r = run("metrics", [
      entry(T0, reading(95)),
      entry(T0 + 2 * MIN, reading(95)),
      entry(T0 + 4 * MIN, reading(95)),
      entry(t, reading(95)),
    ], { only: "cpu_sustained" });
    assert.equal(r.firings.length, 1);
    assert.equal(r.resolutions.length, 1);
    assert.equal(r.resolutions[0]!.at, T0 + 5 * MIN);
    assert.equal(r.resolutions[0]!.value, undefined, `reading at ${t - T0} ms`);
    assert.equal(r.resolutions[0]!.details, undefined, `reading at ${t - T0} ms`);
  }
});

Deno.test("metric_score resolves at the value whose score fell under clear", () => {
  const r = run("metrics", [
    entry(T0, reading(50, 116)),
    entry(T0 + SEC, reading(50, 10)),
  ], { engine: fakeEngine, only: "metric_score" });
  assert.equal(r.firings.length, 1);
  assert.equal(r.resolutions.length, 1);
  assert.equal(r.resolutions[0]!.value, 10);
  assert.deepEqual(r.resolutions[0]!.details, {
    value: 10,
    score: 10 / 128,
    expected_low: 0,
    expected_high: 50,
  });
});
