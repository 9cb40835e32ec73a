import assert from "node:assert/strict";
import { DEFAULT_ENGINE_CONFIG } from "./config.ts";
import { type EarlyEvidence, earlyPhase } from "./early_phase.ts";
import { normalTail } from "./likelihood.ts";
import { createSeriesState, type SeriesState } from "./series_state.ts";

const C = DEFAULT_ENGINE_CONFIG;

/** Feeds values as the engine does (count, then the early phase) and returns each point's evidence. */
function run(values: number[], s: SeriesState = createSeriesState()): EarlyEvidence[] {
  return values.map((x) => {
    s.n++;
    return { ...earlyPhase(s, x, 1e-6, C, { prev: NaN, outlierQ: 1, deviationQ: 1 }) };
  });
}

/** A slow ramp, 10 + 0.1 i: no value is an outlier (mean absolute first difference 0.1). */
function ramp(length = 100): number[] {
  return Array.from<unknown, number>({ length }, (_, i) => 10 + 0.1 * i);
}

Deno.test("earlyPhase(): an isolated outlier is reported when the next value returns", () => {
  const v = ramp();
  v[80] = 19.5;
  const ev = run(v);
  const hit = ev[81]!;
  assert.equal(hit.prev, 19.5);
  // Its deviation from the median of the 5 values before it (17.7) on the
  // local scale: the range of those 5 (0.4) / 2.326, above the mean |Δ| × √π/2.
  const q = 2 * normalTail((19.5 - (10 + 7.7)) / (0.4 / 2.326));
  assert.ok(Math.abs(hit.outlierQ / q - 1) < 1e-6, `outlier q ${hit.outlierQ}, expected ${q}`);
  assert.ok(hit.outlierQ < 1e-6);
  assert.ok(ev.every((e, i) => i === 81 || e.outlierQ === 1), "nothing else is an outlier");
  assert.ok(ev[80]!.deviationQ < 1e-6, "the outlier's own deviation is graded at once");
});

Deno.test("earlyPhase(): a value the next one only partly returned from is not an isolated outlier", () => {
  const v = ramp();
  v[80] = 19.5; // 1.8 above the local level 17.7
  v[81] = 18.3; // back by 1.2 of 1.8: 0.6 away, more than earlyReturn (25 %) of 1.8
  const ev = run(v);
  assert.ok(ev.every((e) => e.outlierQ === 1));
});

Deno.test("earlyPhase(): a lasting step is not an isolated outlier", () => {
  const v = ramp();
  for (let i = 80; i < 100; i++) v[i] = v[i]! + 20;
  const ev = run(v);
  assert.ok(ev.every((e) => e.outlierQ === 1));
});

Deno.test("earlyPhase(): only between the warm-up and the end of the early phase", () => {
  const v = ramp(400);
  v[40] = 30; // in the warm-up
  v[350] = 30; // after the early phase
  const ev = run(v);
  assert.equal(ev[41]!.outlierQ, 1, "warm-up");
  assert.equal(ev[351]!.outlierQ, 1, "mature");
  assert.equal(ev[350]!.deviationQ, 1, "mature");
  assert.equal(ev[40]!.deviationQ, 1, "warm-up");
  assert.ok(ev[100]!.deviationQ < 1, "graded in the early phase");
});

Deno.test("earlyPhase() learns the mean absolute first difference, clipped against outliers", () => {
  const s = createSeriesState();
  run(ramp(50), s);
  assert.ok(Math.abs(s.diffMean - 0.1) < 1e-9, `${s.diffMean}`);
  run([1000], s);
  assert.ok(s.diffMean < 0.107, `an outlier moves it by at most 3 × 0.1 / k: ${s.diffMean}`);
  assert.equal(s.recent[50 % 8], 1000, "the value is in the ring at n − 1 mod 8");
  // After equal readings (mean 0) a difference is learned, not clipped to 4 × 0.
  const flat = createSeriesState();
  run([...new Array<number>(20).fill(5), 6], flat);
  assert.ok(Math.abs(flat.diffMean - 1 / 20) < 1e-12, `after equal readings: ${flat.diffMean}`);
});
