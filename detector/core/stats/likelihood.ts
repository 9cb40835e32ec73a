/**
 * Anomaly likelihood post-processing, after Numenta's HTM "anomaly
 * likelihood" (Ahmad et al. 2017, as used in NAB): instead of alarming on a
 * raw anomaly score, ask how unlikely the *recent average* of raw scores is
 * under the distribution of raw scores the series usually produces. A series
 * whose raw scores are routinely high (noisy, spiky) then needs much more to
 * alarm than a quiet one, and a sustained change (several moderately raised
 * raw scores) counts more than one isolated blip.
 *
 * Bounded memory: the long-run distribution is a Gaussian fitted to the last
 * `blocks × blockSize` short-term averages, kept as per-block sums (so it is
 * re-estimated once per block, like NAB's re-estimation period).
 *
 * @module
 */

import { type Float64Alloc, separateFloat64 } from "./arena.ts";

/** Parameters of the likelihood stage (part of the engine configuration). */
export interface LikelihoodConfig {
  /** Raw scores averaged for the short-term value. @default {10} */
  averagingWindow: number;
  /** Short-term averages per block of the long-run estimate. @default {100} */
  blockSize: number;
  /** Blocks in the long-run estimate (history = blocks × blockSize points). @default {40} */
  blocks: number;
  /** Lower bound of the long-run mean (raw scores are in [0, 1]). @default {0.03} */
  minMean: number;
  /** Lower bound of the long-run standard deviation. @default {0.0173} */
  minStd: number;
}

/** State of the likelihood stage: plain numbers and `Float64Array`s. */
export interface LikelihoodState {
  /** The last `averagingWindow` raw scores (ring). */
  recent: Float64Array;
  /** Next write index in `recent`. */
  recentHead: number;
  /** Per-block sums of short-term averages (ring). */
  blockSum: Float64Array;
  /** Per-block sums of squared short-term averages (ring). */
  blockSumSq: Float64Array;
  /** Next write index in the block rings. */
  blockHead: number;
  /** Completed blocks held (≤ blocks). */
  blockCount: number;
  /** Sum of short-term averages in the block being filled. */
  curSum: number;
  /** Sum of squared short-term averages in the block being filled. */
  curSumSq: number;
  /** Averages in the block being filled. */
  curN: number;
  /** Long-run mean of the short-term average (0 until the first block completes). */
  mean: number;
  /** Long-run standard deviation of the short-term average (0 until then). */
  std: number;
}

/**
 * Creates an empty likelihood state for `config`, its arrays from `alloc`
 * (in this order: `recent`, `blockSum`, `blockSumSq`).
 */
export function createLikelihoodState(
  config: Pick<LikelihoodConfig, "averagingWindow" | "blocks">,
  alloc: Float64Alloc = separateFloat64,
): LikelihoodState {
  return {
    recent: alloc(config.averagingWindow),
    recentHead: 0,
    blockSum: alloc(config.blocks),
    blockSumSq: alloc(config.blocks),
    blockHead: 0,
    blockCount: 0,
    curSum: 0,
    curSumSq: 0,
    curN: 0,
    mean: 0,
    std: 0,
  };
}

const ERFC_COEFFS = [
  -1.26551223,
  1.00002368,
  0.37409196,
  0.09678418,
  -0.18628806,
  0.27886807,
  -1.13520398,
  1.48851587,
  -0.82215223,
  0.17087277,
];

/**
 * Complementary error function (Numerical Recipes `erfcc`, Chebyshev fit;
 * relative error below 1.2e-7 everywhere, including the far tail).
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  let poly = 0;
  for (let i = ERFC_COEFFS.length - 1; i >= 0; i--) poly = poly * t + ERFC_COEFFS[i]!;
  const r = t * Math.exp(-z * z + poly);
  return x >= 0 ? r : 2 - r;
}

/** Upper tail probability P(Z > z) of a standard normal. */
export function normalTail(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/**
 * Maps a tail probability `q` to a score in [0, 1] on a log scale
 * calibrated at `alpha`: `q = alpha` scores 0.5 and `q = alpha²` about 1.
 * With `alpha = 1e-5` this is NAB's HTM detector's scale: `q = 1e-10` gives
 * ~1, `q = 0.5` gives 0.03.
 */
export function calibratedScore(q: number, alpha: number): number {
  if (alpha !== lastAlpha) {
    lastAlpha = alpha;
    lastDenominator = 2 * Math.log(alpha);
  }
  const s = Math.log(q + alpha * alpha) / lastDenominator;
  return s < 0 ? 0 : s > 1 ? 1 : s;
}

// 2 ln α of the last α seen by calibratedScore (one configuration is the rule).
let lastAlpha = NaN;
let lastDenominator = NaN;

/**
 * Feeds one raw score (in [0, 1]) and returns the tail probability of the
 * current short-term average under the long-run distribution: P(Z > z) for
 * an average above the long-run mean, 0.5 at or below it, and 1 until the
 * first block completes. Mutates `st`.
 */
export function updateTailProbability(
  st: LikelihoodState,
  raw: number,
  config: LikelihoodConfig,
): number {
  const recent = st.recent;
  recent[st.recentHead] = raw;
  st.recentHead = st.recentHead + 1 === recent.length ? 0 : st.recentHead + 1;
  let sum = 0;
  for (let i = 0; i < recent.length; i++) sum += recent[i]!;
  const avg = sum / recent.length;

  let q = 1;
  if (st.blockCount > 0) {
    const z = (avg - st.mean) / st.std;
    q = z > 0 ? normalTail(z) : 0.5;
  }

  st.curSum += avg;
  st.curSumSq += avg * avg;
  if (++st.curN >= config.blockSize) {
    st.blockSum[st.blockHead] = st.curSum;
    st.blockSumSq[st.blockHead] = st.curSumSq;
    st.blockHead = st.blockHead + 1 === config.blocks ? 0 : st.blockHead + 1;
    if (st.blockCount < config.blocks) st.blockCount++;
    st.curSum = 0;
    st.curSumSq = 0;
    st.curN = 0;
    let s = 0;
    let sq = 0;
    for (let k = 0; k < st.blockCount; k++) {
      s += st.blockSum[k]!;
      sq += st.blockSumSq[k]!;
    }
    const m = st.blockCount * config.blockSize;
    const mean = s / m;
    const variance = sq / m - mean * mean;
    st.mean = Math.max(mean, config.minMean);
    st.std = Math.max(Math.sqrt(variance > 0 ? variance : 0), config.minStd);
  }
  return q;
}
