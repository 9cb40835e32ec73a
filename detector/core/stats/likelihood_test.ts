import assert from "node:assert/strict";
import {
  calibratedScore,
  createLikelihoodState,
  erfc,
  type LikelihoodConfig,
  type LikelihoodState,
  normalTail,
  updateTailProbability,
} from "./likelihood.ts";
import { prng } from "../../tools/testing/series.ts";

const CONFIG: LikelihoodConfig = {
  averagingWindow: 10,
  blockSize: 100,
  blocks: 40,
  minMean: 0.03,
  minStd: 0.0173,
};

/** A tail probability on NAB's HTM detector's log scale: `calibratedScore` at 1e-5. */
const logScore = (q: number) => calibratedScore(q, 1e-5);

/**
 * Feeds one raw score and returns the likelihood score in [0, 1] of the
 * current short-term average (0 until the first block completes).
 */
function updateLikelihood(st: LikelihoodState, raw: number, config: LikelihoodConfig): number {
  const q = updateTailProbability(st, raw, config);
  return q < 1 ? logScore(q) : 0;
}

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

Deno.test("calibratedScore() is exactly ln(q + α²) / (2 ln α), clamped, whichever α came before", () => {
  const rand = prng(21);
  for (let i = 0; i < 3000; i++) {
    const alpha = [1e-6, 3e-6, 1e-5][i % 3]!;
    const q = rand() ** 8;
    const want = Math.min(1, Math.max(0, Math.log(q + alpha * alpha) / (2 * Math.log(alpha))));
    assert.equal(calibratedScore(q, alpha), want, `q ${q}, alpha ${alpha}`);
  }
});
