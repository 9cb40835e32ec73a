/**
 * ARTime: an adaptive-resonance-theory detector of novel shapes, after Mark
 * Hampton's ARTime (2021; the NAB detector `ARTime`, code `ARTimeNAB.jl`,
 * which tops NAB's scoreboard), itself built on the dual-vigilance fuzzy ART
 * of Carpenter, Grossberg & Rosen (1991) as in `AdaptiveResonance.jl`.
 *
 * Per point: every `downsample` points the last `downsample` values are
 * reduced to one (their mean, or the extreme farthest from a running
 * average when it departs from the mean by more than 10 %), normalised to
 * [0, 1], quantised to `levels` levels and snapped to the running median
 * level when within `chomp` of it. The last `window` such values and the
 * Haar wavelet transform of their min–max-normalised copy form a feature
 * vector (16 values), which a fuzzy ART network with two vigilance levels
 * classifies: similarity ≥ `rhoUb` resonates with (and refines) a category,
 * ≥ `rhoLb` makes a new category of a known cluster, below that a new
 * cluster — a shape never seen before, reported as an anomaly with a
 * confidence in (0, 1] unless masked (just after another anomaly or a new
 * category). The vigilances adapt to the series every half trend window.
 *
 * Faithful to the reference implementation except where a streaming,
 * bounded-memory engine forces a change (all documented in
 * `docs/statistics.md`):
 *
 * - **Causal range.** NAB hands ARTime the whole file's minimum and
 *   maximum; here the range is that of the first `trendWindow × downsample`
 *   points (the initialisation period), widened by `rangeMargin` of itself on
 *   each side; later values outside it saturate at level 0 or `levels`.
 * - **Fixed downsampling.** ARTime derives `downsample` from the file length
 *   (13 windows of 8 in the probationary period); a stream has no length, so
 *   it is fixed (6 points: 104 steps = 624 points of initialisation).
 * - **Bounded categories.** At most `maxCategories`; a new one replaces the
 *   least recently used. Feature values are stored on a 16-bit grid.
 *
 * The initialisation period is batch-processed at its end exactly as the
 * reference does (initial vigilance from a similarity-ordered pass); the
 * raw downsampled values of that period are the only extra memory it needs.
 *
 * Pure, causal, constant memory; state is plain numbers and typed arrays.
 *
 * @module
 */

import {
  type ArtimeConfig,
  type ArtimeState,
  createArtimeState,
  DEFAULT_ARTIME_CONFIG,
} from "./artime_state.ts";
import { features, haar, level } from "./artime_features.ts";
import { initialRho, type Net, Q, train, type TrainResult } from "./artime_network.ts";

export {
  type ArtimeConfig,
  type ArtimeState,
  createArtimeState,
  DEFAULT_ARTIME_CONFIG,
  haar,
  type Net,
  train,
  type TrainResult,
};

// Feature vector of the live step, one per feature width (single-threaded,
// consumed before the next call).
const liveFeatures = new Map<number, Uint16Array>();

function liveFeatureVector(width: number): Uint16Array {
  let f = liveFeatures.get(width);
  if (f === undefined) liveFeatures.set(width, f = new Uint16Array(width));
  return f;
}

/** Anomaly confidence of the reference from the best similarity and energy similarity. */
function confidence(s: ArtimeState, sim: number, energy: number): number {
  const fsim = Math.min(0.999, sim);
  const ub = ((1 - fsim) - (1 - s.rhoUb)) / (1 - fsim);
  const lb = ((1 - fsim) - (1 - s.rhoLb)) / (1 - fsim);
  return Math.min(1, ub * 0.35 + lb * 0.65 + (1 - energy) * 1.5);
}

/** The reference's `detect!` for downsampled value `i`: confidence, or 0. */
function detect(s: ArtimeState, f: Uint16Array, i: number, c: ArtimeConfig): number {
  const mask = c.artWindow * 1.5;
  const half = Math.floor(c.artTrendWindow / 2);
  const updAfterAnomaly = i - s.lastAnomI === mask;
  const updForTrend = i - s.lastRhoI >= half;
  const maskAfterAnomaly = i - s.lastAnomI <= mask;
  if (i > c.artTrendWindow + mask && s.maskAfterCat === 1 && s.noNewCat >= mask) {
    s.maskAfterCat = 0;
  }
  const r = train(s, f, s.rhoLb, s.rhoUb, i >= c.artWindow, c.artMaxCategories);
  const newCluster = i < c.artWindow || r.mismatch;
  s.noNewCat = newCluster ? 0 : s.noNewCat + 1;
  const a = r.sim;
  s.simSum += a;
  s.simN++;
  s.simWindow[s.simWindowHead] = a;
  s.simWindowHead = s.simWindowHead + 1 === s.simWindow.length ? 0 : s.simWindowHead + 1;
  s.simDiff[s.simDiffHead] = s.rhoUb - a;
  s.simDiffHead = s.simDiffHead + 1 === s.simDiff.length ? 0 : s.simDiffHead + 1;
  if (i - s.lastAnomI < mask && s.anomSimN > 0 && a < s.anomSimLast) s.anomSimLast = a;
  const masking = s.maskAfterCat === 1 || maskAfterAnomaly;
  const belowLast = a < s.lastAnomSim * (maskAfterAnomaly ? 0.9 : 0.7);
  let anomaly = 0;
  if (i > c.artTrendWindow && newCluster && (!masking || belowLast)) {
    anomaly = confidence(s, a, r.energy);
    if (s.anomSimN > 0) s.anomSimSum += s.anomSimLast;
    s.anomSimLast = a;
    s.anomSimN++;
    s.lastAnomSim = a;
    s.lastAnomI = i;
  }
  if (newCluster) s.maskAfterCat = 1;
  if (i > c.artTrendWindow && (updAfterAnomaly || updForTrend)) {
    let minSim = Infinity;
    for (const v of s.simWindow) if (v < minSim) minSim = v;
    const ub = Math.min(0.97, s.simSum / s.simN);
    const prev = s.rhoLb;
    let lb: number;
    if (prev <= minSim) lb = prev + (minSim - prev) * 0.19;
    else {
      let decr = 0;
      if (i > c.artTrendWindow * 2) {
        let total = 0;
        let count = 0;
        for (const v of s.simDiff) {
          if (v > 0.05) {
            total += Math.min(0.37, v);
            count++;
          }
        }
        if (count > 0) decr = total / count;
      }
      decr = Math.max(0.01, decr);
      lb = prev - decr / 2;
      if (s.anomSimN > 0) lb = Math.max((s.anomSimSum + s.anomSimLast) / s.anomSimN, lb);
    }
    s.rhoLb = Math.min(ub, lb);
    s.rhoUb = ub;
    s.lastRhoI = i;
    s.maskAfterCat = 1;
  }
  return anomaly;
}

/**
 * Feeds one finite point; returns the anomaly confidence (0 when the point
 * completes no downsampled value or that value is not a novel shape).
 * Mutates `s`.
 */
export function updateArtime(s: ArtimeState, x: number, c: ArtimeConfig): number {
  s.i++;
  s.dsRing[s.dsHead] = x;
  s.dsHead = s.dsHead + 1 === c.artDownsample ? 0 : s.dsHead + 1;
  const initPoints = c.artTrendWindow * c.artDownsample;
  if (s.i <= initPoints) {
    if (x < s.rawMin) s.rawMin = x;
    if (x > s.rawMax) s.rawMax = x;
  }
  if (s.i % c.artDownsample !== 0) return 0;
  let mean = 0;
  let mx = -Infinity;
  let mn = Infinity;
  for (const v of s.dsRing) {
    mean += v;
    if (v > mx) mx = v;
    if (v < mn) mn = v;
  }
  mean /= c.artDownsample;
  if (s.dsi === 1) s.dsMa = mean;
  s.dsMa = (s.dsMa + mean) / 2;
  let raw = Math.abs(mx - s.dsMa) < Math.abs(mn - s.dsMa) ? mn : mx; // the spike side
  if (Math.abs(raw - mean) < 0.1 * mean) raw = mean; // a spike must be at least 10 %
  let anomaly = 0;
  if (s.dsi <= c.artTrendWindow) {
    s.initRaw[s.dsi - 1] = raw;
    if (s.dsi === c.artTrendWindow) finishInit(s, c);
  } else {
    level(s, raw, c);
    anomaly = detect(s, features(s, c, liveFeatureVector(2 * c.artWindow)), s.dsi, c);
  }
  s.dsi++;
  return anomaly;
}

/** Allocates the category weights (when the initialisation period ends). Mutates `s`. */
export function allocateNetwork(
  s: ArtimeState,
  c: Pick<ArtimeConfig, "artMaxCategories" | "artWindow">,
): void {
  s.cats = new Uint16Array(c.artMaxCategories * 4 * c.artWindow);
}

/** End of the initialisation period: fix the range, then batch-process the period as the reference does. */
function finishInit(s: ArtimeState, c: ArtimeConfig): void {
  allocateNetwork(s, c);
  const margin = (s.rawMax - s.rawMin) * c.artRangeMargin;
  s.dmin = s.rawMin - margin;
  s.dmax = s.rawMax + margin;
  const fs: Uint16Array[] = [];
  const last = s.dsi;
  for (let k = 1; k <= last; k++) {
    s.dsi = k;
    level(s, s.initRaw[k - 1]!, c);
    fs.push(features(s, c, new Uint16Array(2 * c.artWindow)));
  }
  const rho = initialRho(fs.slice(c.artWindow - 1, c.artTrendWindow), c);
  s.rhoLb = rho;
  s.rhoUb = rho;
  fs.forEach((f, k) => detect(s, f, k + 1, c));
  s.dsi = last;
  s.initRaw = new Float64Array(0);
}

/** Recomputes the derived per-category norms (after a restore). Mutates `s`. */
export function rebuildWeightSums(s: ArtimeState): void {
  const d = s.fwin.length * 2;
  for (let j = 0; j < s.nCats; j++) {
    let sum = 0;
    for (let q = 0; q < d; q++) sum += s.cats[j * 2 * d + q]! + (Q - s.cats[j * 2 * d + d + q]!);
    s.wsum[j] = sum;
  }
}

/** Has the initialisation period ended (is the detector scoring)? */
export function artimeReady(s: ArtimeState): boolean {
  return s.initRaw.length === 0;
}
