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

/** ARTime parameters (the reference's values unless said otherwise). */
export interface ArtimeConfig {
  /** Downsampled values per feature window. @default {8} */
  artWindow: number;
  /** Points per downsampled value (the reference derives it from the file length). @default {6} */
  artDownsample: number;
  /** Downsampled values of the initialisation period (13 windows of 8). @default {104} */
  artTrendWindow: number;
  /** Quantisation levels of the normalised value. @default {80} */
  artLevels: number;
  /** A value within this of the running median level is snapped to it. @default {0.075} */
  artChomp: number;
  /** Vigilance used to estimate the initial vigilance. @default {0.8} */
  artInitialRho: number;
  /** Categories kept (the least recently used is replaced). @default {128} */
  artMaxCategories: number;
  /** Widening of the initialisation range on each side, as a fraction of it. @default {0.5} */
  artRangeMargin: number;
}

/** The reference parameters, with the streaming choices above. */
export const DEFAULT_ARTIME_CONFIG: Readonly<ArtimeConfig> = Object.freeze({
  artWindow: 8,
  artDownsample: 6,
  artTrendWindow: 104,
  artLevels: 80,
  artChomp: 0.075,
  artInitialRho: 0.8,
  artMaxCategories: 128,
  artRangeMargin: 0.5,
});

/** Quantisation grid of feature values (and so of category weights). */
const Q = 65535;

/** State of the ARTime detector of one series: numbers and typed arrays. */
export interface ArtimeState {
  /** Points seen (finite values). */
  i: number;
  /** Index of the next downsampled value (1-based, as in the reference). */
  dsi: number;
  /** The last `artDownsample` points (ring, order irrelevant). */
  dsRing: Float64Array;
  dsHead: number;
  /** Running average of downsampled means. */
  dsMa: number;
  /** Minimum / maximum of the points of the initialisation period. */
  rawMin: number;
  rawMax: number;
  /** Raw downsampled values of the initialisation period (emptied after it). */
  initRaw: Float64Array;
  /** Normalisation range (NaN until the initialisation period ends). */
  dmin: number;
  dmax: number;
  /** Histogram of levels and the running-median bookkeeping of the reference. */
  medbin: Float64Array;
  medlevel: number;
  belowmed: number;
  abovemed: number;
  /** The last `artWindow` levelled values, oldest first. */
  fwin: Float64Array;
  /**
   * Categories as hyperboxes on the 16-bit grid, `4 × artWindow` values each:
   * the lowest then the highest value learned per feature.
   */
  cats: Uint16Array;
  /** Per category, the L1 norm of its complement-coded weights (derived from `cats`). */
  wsum: Float64Array;
  /** Categories in use. */
  nCats: number;
  /** Last use of each category (for replacement). */
  used: Float64Array;
  tick: number;
  /** Vigilances. */
  rhoLb: number;
  rhoUb: number;
  /** Detection state of the reference. */
  lastAnomI: number;
  lastAnomSim: number;
  lastRhoI: number;
  maskAfterCat: number;
  noNewCat: number;
  /** Running mean of every similarity (sum and count). */
  simSum: number;
  simN: number;
  /** The last `artTrendWindow / 2 + 1` similarities (ring, order irrelevant). */
  simWindow: Float64Array;
  simWindowHead: number;
  /** The last `artTrendWindow + 1` gaps rhoUb − similarity (ring, order irrelevant). */
  simDiff: Float64Array;
  simDiffHead: number;
  /** Similarities at past anomalies: sum of all but the last, the last, and the count. */
  anomSimSum: number;
  anomSimLast: number;
  anomSimN: number;
}

/**
 * Creates the ARTime state of a new series. Its category weights (the bulk
 * of it) are allocated when the initialisation period ends
 * ({@link allocateNetwork}), so a short-lived series stays small.
 */
export function createArtimeState(c: ArtimeConfig = DEFAULT_ARTIME_CONFIG): ArtimeState {
  return {
    i: 0,
    dsi: 1,
    dsRing: new Float64Array(c.artDownsample),
    dsHead: 0,
    dsMa: 0,
    rawMin: Infinity,
    rawMax: -Infinity,
    initRaw: new Float64Array(c.artTrendWindow),
    dmin: NaN,
    dmax: NaN,
    medbin: new Float64Array(c.artLevels + 1),
    medlevel: 0,
    belowmed: 0,
    abovemed: 0,
    fwin: new Float64Array(c.artWindow),
    cats: new Uint16Array(0),
    wsum: new Float64Array(c.artMaxCategories),
    nCats: 0,
    used: new Float64Array(c.artMaxCategories),
    tick: 0,
    rhoLb: 0,
    rhoUb: 0,
    lastAnomI: 0,
    lastAnomSim: 0,
    lastRhoI: 0,
    maskAfterCat: 0,
    noNewCat: 0,
    simSum: 0,
    simN: 0,
    simWindow: new Float64Array(Math.floor(c.artTrendWindow / 2) + 1).fill(1),
    simWindowHead: 0,
    simDiff: new Float64Array(c.artTrendWindow + 1),
    simDiffHead: 0,
    anomSimSum: 0,
    anomSimLast: 0,
    anomSimN: 0,
  };
}

/**
 * Orthonormal Haar transform, full depth, of `x[0..n)` (`n` a power of 2)
 * into `out[0..n)`: [approx, coarse … fine details]. `tmp` is scratch of
 * length ≥ n.
 */
export function haar(x: Float64Array, out: Float64Array, tmp: Float64Array, n = x.length): void {
  for (let k = 0; k < n; k++) tmp[k] = x[k]!;
  let len = n;
  while (len > 1) {
    const h = len >> 1;
    for (let k = 0; k < h; k++) {
      const a = tmp[2 * k]!;
      const b = tmp[2 * k + 1]!;
      out[h + k] = (b - a) / Math.SQRT2;
      tmp[k] = (a + b) / Math.SQRT2;
    }
    len = h;
  }
  out[0] = tmp[0]!;
}

function minMaxNormalise(v: Float64Array, n: number): void {
  let mn = Infinity;
  for (let k = 0; k < n; k++) if (v[k]! < mn) mn = v[k]!;
  let mx = -Infinity;
  for (let k = 0; k < n; k++) {
    v[k] = v[k]! - mn;
    if (v[k]! > mx) mx = v[k]!;
  }
  if (mx !== 0) { for (let k = 0; k < n; k++) v[k] = v[k]! / mx; }
}

// Scratch for features() (single-threaded, never re-entered; no state kept).
const scratchA = new Float64Array(16);
const scratchB = new Float64Array(16);
const scratchC = new Float64Array(16);

/** Feature vector (quantised to the 16-bit grid) of the current window, into `f`. */
function features(s: ArtimeState, c: ArtimeConfig, f: Uint16Array): Uint16Array {
  const w = c.artWindow;
  if (s.dsi < w) return f.fill(0); // the reference feeds zeros until a window is full
  const dw = scratchA;
  for (let k = 0; k < w; k++) dw[k] = s.fwin[k]!;
  minMaxNormalise(dw, w);
  const fw = scratchB;
  haar(dw, fw, scratchC, w);
  minMaxNormalise(fw, w);
  for (let k = 0; k < w; k++) {
    f[k] = Math.round(fw[k]! * Q);
    f[w + k] = Math.round(s.fwin[k]! * Q);
  }
  return f;
}

// Feature vector of the live step (single-threaded, consumed before the next call).
const liveFeatures = new Uint16Array(32);

/** Similarity and energy similarity of the best category, and what training did. */
export interface TrainResult {
  sim: number;
  energy: number;
  /** A new cluster was needed (the reference's label −1). */
  mismatch: boolean;
}

/** A fuzzy ART network: the live one in the state, or a scratch one for vigilance estimation. */
export interface Net {
  cats: Uint16Array;
  wsum: Float64Array;
  nCats: number;
  used: Float64Array;
  tick: number;
}

/**
 * One step of dual-vigilance fuzzy ART (the reference's `train!` for one
 * sample). A category is stored as its hyperbox: per feature the lowest and
 * highest value it has learned (the complement-coded weights w and 1 − w
 * of the reference are `lo` and `Q − hi`), so the fuzzy AND reduces to the
 * L1 distance from the sample to the box: |x ∧ w| = |w| − distance.
 * Exported for the tests, which check it against the reference's formula.
 */
export function train(
  net: Net,
  f: Uint16Array,
  rhoLb: number,
  rhoUb: number,
  learning: boolean,
  maxCats: number,
): TrainResult {
  const d = f.length;
  const dc = 2 * d;
  const cats = net.cats;
  if (net.nCats === 0) {
    // The reference starts with one all-ones category (lo = Q, hi = 0: an
    // empty box) and skips the first sample.
    cats.fill(Q, 0, d);
    cats.fill(0, d, dc);
    net.wsum[0] = dc * Q;
    net.nCats = 1;
    net.used[0] = 0;
    return { sim: 0, energy: 0, mismatch: false };
  }
  const ei = d - 1; // the latest level value and its complement carry the "energy"
  const xe = f[ei]!;
  let best = 0;
  let bestJ = -1;
  let bestEnergy = 0;
  let resonated = false;
  const n = net.nCats;
  // Visit the most recently used category first: a high best-so-far lets the
  // bound below drop most others early. Ties for the best go to the lowest
  // index, as in the reference's stable sort, whatever the visiting order.
  const used = net.used;
  const wsum = net.wsum;
  let start = 0;
  for (let j = 1; j < n; j++) if (used[j]! > used[start]!) start = j;
  // Fast commit learns every category at or above rhoUb (the reference's loop
  // in descending order learns all of them, then stops at the first below).
  for (let v = 0; v < n; v++) {
    const j = start + v < n ? start + v : start + v - n;
    const off = j * dc;
    const loE = cats[off + ei]!;
    const hiE = cats[off + d + ei]!;
    const we = loE + (Q - hiE);
    const distE = (loE > xe ? loE - xe : 0) + (xe > hiE ? xe - hiE : 0);
    const es = we === 0 ? 1 : (we - distE) / we;
    const es2 = es * es;
    const nw = wsum[j]!;
    const denom = nw === 0 ? 0.001 * Q : nw;
    // A category that can be neither the best nor resonant is dropped as soon
    // as a bound shows it: with the distance so far, its similarity is at most
    // ((|w| − distance) / |w|)³ × energy² (the margin keeps rounding from
    // dropping a category that reaches the cut exactly).
    const cut = best < rhoUb ? best : rhoUb;
    if (es2 < cut * (1 - 1e-12)) continue; // not even a perfect feature match reaches it
    const cutE = (cut / es2) * (1 - 1e-12);
    let dist = 0;
    let k = 0;
    let dropped = false;
    while (k < d) {
      const end = k + 4 < d ? k + 4 : d;
      for (; k < end; k++) {
        const x = f[k]!;
        const lo = cats[off + k]!;
        const hi = cats[off + d + k]!;
        if (lo > x) dist += lo - x;
        if (x > hi) dist += x - hi;
      }
      const fb = (nw - dist) / denom;
      if (fb * fb * fb < cutE) {
        dropped = true;
        break;
      }
    }
    if (dropped) continue;
    const fs = (nw - dist) / denom;
    const m = fs * fs * fs * es2;
    if (m > best || (m === best && m > 0 && j < bestJ)) {
      best = m;
      bestJ = j;
      bestEnergy = es;
    }
    if (learning && m >= rhoUb) {
      let sum = 0;
      for (let q = 0; q < d; q++) {
        const x = f[q]!;
        if (x < cats[off + q]!) cats[off + q] = x;
        if (x > cats[off + d + q]!) cats[off + d + q] = x;
        sum += cats[off + q]! + (Q - cats[off + d + q]!);
      }
      wsum[j] = sum;
      used[j] = ++net.tick;
      resonated = true;
    }
  }
  if (!learning || resonated) return { sim: best, energy: bestEnergy, mismatch: !resonated };
  // No resonance: a new category, of a known cluster when the best match passes rhoLb.
  let slot = n;
  if (n >= maxCats) {
    slot = 0;
    for (let j = 1; j < n; j++) if (net.used[j]! < net.used[slot]!) slot = j;
  } else net.nCats = n + 1;
  const off = slot * dc;
  for (let q = 0; q < d; q++) {
    cats[off + q] = f[q]!;
    cats[off + d + q] = f[q]!;
  }
  net.wsum[slot] = d * Q;
  net.used[slot] = ++net.tick;
  return { sim: best, energy: bestEnergy, mismatch: !(best >= rhoLb) };
}

/** The reference's "close to cosine" similarity of two feature vectors. */
function similarity(a: Uint16Array, b: Uint16Array): number {
  let na = 0;
  let nb = 0;
  let dot = 0;
  for (let k = 0; k < a.length; k++) {
    const x = a[k]! / Q;
    const y = b[k]! / Q;
    na += x * x;
    nb += y * y;
    dot += x * y;
  }
  na = Math.sqrt(na);
  nb = Math.sqrt(nb);
  if (na === 0) return 1 - nb;
  if (nb === 0) return 1 - na;
  return dot / (na * nb);
}

/** Initial vigilance: train a scratch network on the features least similar to the rest first. */
function initialRho(fs: Uint16Array[], c: ArtimeConfig): number {
  const n = fs.length;
  const sum = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const v = similarity(fs[i]!, fs[j]!);
      sum[i] = sum[i]! + v;
      sum[j] = sum[j]! + v;
    }
    sum[i] = sum[i]! + 1;
  }
  const order = Array.from({ length: n }, (_, k) => k).sort((a, b) => sum[a]! - sum[b]! || a - b);
  const dc = 4 * c.artWindow;
  const net: Net = {
    cats: new Uint16Array((n + 1) * dc),
    wsum: new Float64Array(n + 1),
    nCats: 0,
    used: new Float64Array(n + 1),
    tick: 0,
  };
  const sims: number[] = [];
  for (const k of order) {
    sims.push(train(net, fs[k]!, c.artInitialRho, c.artInitialRho, true, n + 1).sim);
  }
  // mean of A[trendWindow ÷ 2 : end] (1-based, as in the reference)
  const from = Math.floor(c.artTrendWindow / 2) - 1;
  let total = 0;
  for (let k = from; k < sims.length; k++) total += sims[k]!;
  return sims.length > from ? total / (sims.length - from) : c.artInitialRho;
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
  s.simWindowHead = (s.simWindowHead + 1) % s.simWindow.length;
  s.simDiff[s.simDiffHead] = s.rhoUb - a;
  s.simDiffHead = (s.simDiffHead + 1) % s.simDiff.length;
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

/** Normalises, quantises and levels one downsampled value, then shifts it into the window. */
function level(s: ArtimeState, raw: number, c: ArtimeConfig): void {
  let d = raw - s.dmin;
  if (s.dmax - s.dmin !== 0) d = d / (s.dmax - s.dmin);
  const lv = Math.max(0, Math.min(c.artLevels, Math.round(d * c.artLevels)));
  d = lv / c.artLevels;
  const mb = s.medbin;
  mb[lv] = mb[lv]! + 1;
  const medpos = Math.floor(s.dsi / 2);
  if (s.dsi === 1) s.medlevel = lv;
  if (s.medlevel > lv) s.belowmed++;
  else if (s.medlevel < lv) s.abovemed++;
  // The reference's approximate running median over the level histogram.
  if (medpos < s.abovemed) {
    s.belowmed += mb[s.medlevel]!;
    s.medlevel++;
    while (mb[s.medlevel] === 0) s.medlevel++;
    s.abovemed -= mb[s.medlevel]!;
  } else if (medpos < s.belowmed) {
    s.abovemed += mb[s.medlevel]!;
    s.medlevel--;
    while (mb[s.medlevel] === 0) s.medlevel--;
    s.belowmed -= mb[s.medlevel]!;
  }
  const med = s.medlevel / c.artLevels;
  if (Math.abs(d - med) < c.artChomp) d = med;
  s.fwin.copyWithin(0, 1);
  s.fwin[c.artWindow - 1] = d;
}

/**
 * Feeds one finite point; returns the anomaly confidence (0 when the point
 * completes no downsampled value or that value is not a novel shape).
 * Mutates `s`.
 */
export function updateArtime(s: ArtimeState, x: number, c: ArtimeConfig): number {
  s.i++;
  s.dsRing[s.dsHead] = x;
  s.dsHead = (s.dsHead + 1) % c.artDownsample;
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
    anomaly = detect(s, features(s, c, liveFeatures.subarray(0, 2 * c.artWindow)), s.dsi, c);
  }
  s.dsi++;
  return anomaly;
}

/** Allocates the category weights (when the initialisation period ends). Mutates `s`. */
export function allocateNetwork(s: ArtimeState, c: ArtimeConfig): void {
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
