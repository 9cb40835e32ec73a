/**
 * The two baselines of the deviation detector: a *recent* one (median and
 * interquartile range of the last `windowSize` values) and a *time-of-day*
 * one (a robust exponentially weighted mean and absolute deviation per UTC
 * time-of-day bucket), used once it predicts the series clearly better than
 * the recent one (running mean absolute errors).
 *
 * @module
 */

import type { EngineConfig } from "./config.ts";
import type { Baseline } from "./explanation.ts";
import type { SeriesState } from "./series_state.ts";
import { quantile } from "./sorted_window.ts";

const DAY_MS = 86_400_000;

/** What the baselines expect of a point. */
export interface BaselineFit {
  /** Robust z-score of the point (0 without a baseline). */
  z: number;
  /** Expected value (NaN without a baseline). */
  center: number;
  /** Expected scale, σ (NaN without a baseline). */
  scale: number;
  /** Smallest scale of the baselines at this point (0 without a baseline). */
  floor: number;
  /** Baseline used. */
  baseline: Baseline;
}

/**
 * The UTC time-of-day bucket of `timestamp` (epoch ms) among `buckets`:
 * ⌊ms × buckets / D⌋, the product exact for an integer ms (ms / D × buckets
 * rounded a bucket's first millisecond into the one before, e.g. for 1,440).
 */
export function timeOfDayBucket(timestamp: number, buckets: number): number {
  return Math.floor(msOfDay(timestamp) * buckets / DAY_MS);
}

/**
 * Milliseconds since UTC midnight: ((t mod D) + D) mod D, D = one day. For a
 * safe integer t (|t| < 2⁵³), t − ⌊t / D⌋ · D is the same exact integer
 * without two floating-point remainders: |t / D| < 2²⁷, where half an ulp is
 * below 2⁻²⁷ < 1 / D, so the quotient never rounds across an integer and the
 * floor is exact; the product and the difference are integers below 2⁵³.
 * Anything else takes the remainders.
 */
function msOfDay(t: number): number {
  if (Number.isSafeInteger(t)) return t - Math.floor(t / DAY_MS) * DAY_MS;
  return (t % DAY_MS + DAY_MS) % DAY_MS;
}

/**
 * Fits `x` against the baselines (before learning it), into `out`. `span` is
 * the recent range (it sets the scale's floor with the median). Also updates
 * the two baselines' running absolute errors (mutates `s`).
 */
export function fitBaseline(
  s: SeriesState,
  x: number,
  timestamp: number,
  bucket: number,
  span: number,
  c: EngineConfig,
  out: BaselineFit,
): BaselineFit {
  const w = s.window;
  const sMean = s.seasonMean[bucket]!;
  const sCount = s.seasonCount[bucket]!;
  let zScore = 0;
  let center = NaN;
  let scale = NaN;
  let floor = 0;
  let baseline: Baseline = "none";
  if (w.count >= 10) {
    const med = quantile(w, 0.5);
    floor = Math.max(c.relativeFloor * Math.max(Math.abs(med), span), c.absoluteFloor);
    const iqrScale = (quantile(w, 0.75) - quantile(w, 0.25)) / 1.349;
    center = med;
    scale = iqrScale > floor ? iqrScale : floor;
    baseline = "recent";
    if (sCount > 0) {
      s.errRecent += c.errorAlpha * (Math.abs(x - med) - s.errRecent);
      s.errSeason += c.errorAlpha * (Math.abs(x - sMean) - s.errSeason);
      if (
        sCount >= c.seasonMinCount && timestamp - s.firstTs >= c.seasonMinSpanMs &&
        s.errSeason < c.seasonAdvantage * s.errRecent
      ) {
        const devScale = 1.25 * s.seasonDev[bucket]!; // mean abs deviation → σ
        center = sMean;
        scale = devScale > floor ? devScale : floor;
        baseline = "time-of-day";
      }
    }
    zScore = (x - center) / scale;
  }
  out.z = zScore;
  out.center = center;
  out.scale = scale;
  out.floor = floor;
  out.baseline = baseline;
  return out;
}

/**
 * Learns `x` into its time-of-day bucket, clipped once the bucket is
 * established so that an outlier moves it by at most seasonAlpha × 4σ.
 * Mutates `s`.
 */
export function learnTimeOfDay(
  s: SeriesState,
  x: number,
  bucket: number,
  floor: number,
  c: EngineConfig,
): void {
  const sMean = s.seasonMean[bucket]!;
  const sCount = s.seasonCount[bucket]!;
  if (sCount > 0) {
    const dev = s.seasonDev[bucket]!;
    const devScale = Math.max(1.25 * dev, floor);
    const clip = sCount >= c.seasonMinCount ? 4 * devScale : Infinity;
    const d = Math.max(-clip, Math.min(clip, x - sMean));
    // A plain average over the first 1/seasonAlpha visits (an exponential
    // average started from one value underestimates the deviation for long).
    const alpha = sCount * c.seasonAlpha < 1 ? 1 / (sCount + 1) : c.seasonAlpha;
    s.seasonMean[bucket] = sMean + alpha * d;
    s.seasonDev[bucket] = dev + alpha * (Math.abs(d) - dev);
  } else {
    s.seasonMean[bucket] = x;
  }
  s.seasonCount[bucket] = sCount + 1;
}
