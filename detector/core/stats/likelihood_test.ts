import assert from "node:assert/strict";
import {
  calibratedScore,
  createLikelihoodState,
  erfc,
  type LikelihoodConfig,
  logScore,
  normalTail,
  updateLikelihood,
} from "./likelihood.ts";
import { prng } from "./_series_testing.ts";

const CONFIG: LikelihoodConfig = {
  averagingWindow: 10,
  blockSize: 100,
  blocks: 40,
  minMean: 0.03,
  minStd: 0.0173,
};

Deno.test("erfc and the normal tail match known values", () => {
  const cases: [number, number][] = [[0, 1], [1, 0.157299207], [2, 0.004677735], [-1, 1.842700793]];
  for (const [x, want] of cases) assert.ok(Math.abs(erfc(x) - want) < 1e-7, `erfc(${x})`);
  assert.ok(Math.abs(normalTail(4.265) / 1e-5 - 1) < 0.01, "P(Z > 4.265) ≈ 1e-5");
});

Deno.test("logScore maps tail probabilities to the documented scale", () => {
  assert.ok(Math.abs(logScore(1e-5) - 0.5) < 1e-4);
  assert.ok(logScore(1e-12) > 0.99);
  assert.ok(Math.abs(logScore(0.5) - 0.0301) < 1e-3);
  assert.equal(logScore(1), 0);
});

Deno.test("likelihood is 0 until a block completes, then flags a sustained rise only", () => {
  const st = createLikelihoodState(CONFIG);
  const rand = prng(8);
  const scores: number[] = [];
  for (let i = 0; i < 2000; i++) scores.push(updateLikelihood(st, rand() < 0.05 ? 0.3 : 0, CONFIG));
  assert.ok(scores.slice(0, CONFIG.blockSize).every((s) => s === 0));
  const alarms = scores.slice(500).filter((s) => s >= 0.5).length;
  assert.ok(alarms <= 15, `routine raw scores rarely alarm: ${alarms} of 1500`);
  const rise: number[] = [];
  for (let i = 0; i < 10; i++) rise.push(updateLikelihood(st, 0.9, CONFIG));
  assert.ok(Math.max(...rise) >= 0.5, `sustained high raw scores: ${rise}`);
  assert.ok(st.blockCount <= CONFIG.blocks && st.std >= CONFIG.minStd && st.mean >= CONFIG.minMean);
});

Deno.test("a series whose raw scores are routinely high needs more to alarm", () => {
  const quiet = createLikelihoodState(CONFIG);
  const noisy = createLikelihoodState(CONFIG);
  const rand = prng(9);
  for (let i = 0; i < 3000; i++) {
    updateLikelihood(quiet, 0, CONFIG);
    updateLikelihood(noisy, rand() * 0.8, CONFIG);
  }
  let q = 0;
  let n = 0;
  for (let i = 0; i < 5; i++) {
    q = updateLikelihood(quiet, 0.8, CONFIG);
    n = updateLikelihood(noisy, 0.8, CONFIG);
  }
  assert.ok(q >= 0.5 && n < 0.5, `quiet ${q}, noisy ${n}`);
});

Deno.test("calibratedScore maps the calibration probability to 0.5 and its square to ~1", () => {
  for (const alpha of [1e-5, 3e-6, 1e-6]) {
    assert.ok(Math.abs(calibratedScore(alpha, alpha) - 0.5) < 1e-3, `alpha ${alpha}`);
    assert.ok(calibratedScore(alpha * alpha * 1e-3, alpha) > 0.99);
    assert.ok(calibratedScore(alpha * 10, alpha) < 0.5);
    assert.equal(calibratedScore(1, alpha), 0);
  }
  assert.ok(Math.abs(calibratedScore(3e-7, 1e-5) - logScore(3e-7)) < 1e-12, "1e-5 is logScore");
});
