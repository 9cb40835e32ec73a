/**
 * The early phase (from `warmupPoints` to `earlyPoints`), while the other
 * detectors still lack history: each value's deviation from the median of
 * the 5 values before it, on a local noise scale, is graded (capped below
 * the alarm level by the fusion), and an isolated outlier — a value that
 * departed from its neighbour and that the next value returned from — is
 * reported one point late with the two-sided normal tail of its deviation
 * (a Hampel-style local median test).
 *
 * @module
 */

import type { EngineConfig } from "./config.ts";
import { normalTail } from "./likelihood.ts";
import { RECENT, type SeriesState } from "./series_state.ts";

/** The early phase's evidence about a point. */
export interface EarlyEvidence {
  /** The previous value (NaN for the first point). */
  prev: number;
  /** Tail probability that the previous value was an isolated outlier (1: not one). */
  outlierQ: number;
  /** Tail probability of the point's own deviation from the local level (1: none). */
  deviationQ: number;
}

/** The 5 values before index `k` of the recent ring, sorted, and their median. */
function localLevel(s: SeriesState, k: number): { ref: number[]; m: number } {
  const r = s.recent;
  const ref = [
    r[(k - 1) % RECENT]!,
    r[(k - 2) % RECENT]!,
    r[(k - 3) % RECENT]!,
    r[(k - 4) % RECENT]!,
    r[(k - 5) % RECENT]!,
  ].sort((a, b) => a - b);
  return { ref, m: ref[2]! };
}

/**
 * Local noise scale: the larger of the typical first difference (E|Δ| =
 * 2σ/√π for Gaussian noise) and the spread of the 5 reference values
 * (E[range of 5] ≈ 2.326σ), floored.
 */
function localSigma(s: SeriesState, ref: number[], floor: number): number {
  return Math.max(s.diffMean * Math.sqrt(Math.PI) / 2, (ref[4]! - ref[0]!) / 2.326, floor);
}

/**
 * Early-outlier evidence for the previous value: a two-sided normal tail
 * probability of its deviation from the median of the 5 values before it,
 * when it departed from its neighbour and `x` returned; 1 otherwise.
 */
export function earlyOutlier(s: SeriesState, x: number, c: EngineConfig, floor: number): number {
  const n = s.n - 1; // values in the ring before x
  if (n < 7 || !(s.diffMean > 0)) return 1;
  const r = s.recent;
  const prev = r[(n - 1) % RECENT]!;
  const prev2 = r[(n - 2) % RECENT]!;
  const { ref, m } = localLevel(s, n - 1);
  const d = prev - m;
  const departed = Math.abs(prev - prev2) >= 0.5 * Math.abs(d);
  const returned = Math.abs(x - m) <= c.earlyReturn * Math.abs(d);
  if (!departed || !returned || d === 0) return 1;
  return 2 * normalTail(Math.abs(d) / localSigma(s, ref, floor));
}

/**
 * Early-phase evidence about `x` itself, before the next value can confirm
 * it: the same two-sided tail probability of its deviation from the local
 * level (shown as a score capped below the alarm level).
 */
export function earlyDeviation(s: SeriesState, x: number, floor: number): number {
  const n = s.n - 1;
  if (n < 6 || !(s.diffMean > 0)) return 1;
  const { ref, m } = localLevel(s, n);
  return 2 * normalTail(Math.abs(x - m) / localSigma(s, ref, floor));
}

/**
 * The early phase's evidence about `x` (the `s.n`-th value, already counted),
 * into `out`; then learns `x` (the running mean absolute first difference and
 * the ring of recent values). Mutates `s`.
 */
export function earlyPhase(
  s: SeriesState,
  x: number,
  floor: number,
  c: EngineConfig,
  out: EarlyEvidence,
): EarlyEvidence {
  const r = s.recent;
  const prev = s.n >= 2 ? r[(s.n - 2) % RECENT]! : NaN;
  // (the candidate is the previous value: it must itself be after the warm-up and in the early phase)
  out.prev = prev;
  out.outlierQ = s.n - 1 > c.warmupPoints && s.n - 1 <= c.earlyPoints
    ? earlyOutlier(s, x, c, floor)
    : 1;
  out.deviationQ = s.n > c.warmupPoints && s.n <= c.earlyPoints ? earlyDeviation(s, x, floor) : 1;
  if (s.n >= 2) {
    const dd = Math.abs(x - prev);
    // A plain mean over the first 300 differences, clipped at 4× the mean once
    // 10 are in (so outliers barely move it), then exponentially weighted. Not
    // clipped while the mean is 0 (equal readings so far): 4 × 0 would hold it
    // at 0, and the early phase blind, for good.
    const k = s.n - 1;
    const clipped = k > 10 && s.diffMean > 0 && dd > 4 * s.diffMean ? 4 * s.diffMean : dd;
    s.diffMean += (clipped - s.diffMean) / Math.min(k, 300);
  }
  r[(s.n - 1) % RECENT] = x;
  return out;
}
