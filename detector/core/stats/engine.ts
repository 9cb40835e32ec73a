/**
 * Vigil's statistical detection engine: a per-series streaming anomaly
 * detector that learns each series' own normal and scores every new point
 * against it. Pure (no I/O, no clock reads), causal (a score depends only on
 * the point and the points before it), constant memory per series (about
 * 20 KB). The method, its sources and its validation are in
 * `docs/statistics.md`.
 *
 * Four detectors, each turned into evidence on one calibrated scale, fused
 * by taking the strongest (equivalently the smallest tail probability):
 *
 * 1. **Deviation and anomaly likelihood.** A *recent* baseline (median and
 *    interquartile range of the last `windowSize` values) and a
 *    *time-of-day* baseline (robust exponentially weighted mean and absolute
 *    deviation per UTC time-of-day bucket, used only once it predicts the
 *    series clearly better) give a robust z-score; its raw score goes
 *    through Numenta's anomaly likelihood (Ahmad et al. 2017): the tail
 *    probability of the recent average raw score under the series' own
 *    long-run distribution of raw scores (`likelihood.ts`).
 * 2. **New extreme.** A value beyond the minimum/maximum of the last
 *    `rangeBlocks × rangeBlockSize` points by more than `rangeTolerance` of
 *    that range scores 1.
 * 3. **Novel shape** (ARTime, Hampton 2021): an adaptive-resonance network
 *    over windows of downsampled values reports shapes it has never seen
 *    (`artime.ts`).
 * 4. **Early outliers.** While the series is young (from `warmupPoints` to
 *    `earlyPoints`), before the detectors above have enough history, each
 *    value's deviation from the local level is scored (capped below the
 *    alarm level), and an isolated outlier — a value far from its
 *    neighbours that the next value returns from — alarms one point late.
 *
 * Tail probabilities map to scores on a log scale calibrated at
 * `alarmProbability` (that probability scores `alarmScore` = 0.5). After an
 * alarm, further alarm-level scores within `cooldownPoints` points are
 * capped at `suppressedScore` (one alarm per incident).
 *
 * @example
 * ```ts
 * import { createSeriesState, serializeState, update } from "./engine.ts";
 * let state = createSeriesState();
 * const r = update(state, Date.parse("2024-01-01T00:00:00Z"), 42.5);
 * state = r.state; // the same object: update mutates it
 * const checkpoint = serializeState(state); // store; restoreState(checkpoint) later
 * ```
 *
 * @module
 */

import { z } from "zod";
import { decodeFloat64, decodeUint16, encodeFloat64, encodeUint16 } from "./codec.ts";
import {
  type ArtimeConfig,
  artimeReady,
  type ArtimeState,
  createArtimeState,
  DEFAULT_ARTIME_CONFIG,
  rebuildWeightSums,
  updateArtime,
} from "./artime.ts";
import {
  calibratedScore,
  createLikelihoodState,
  type LikelihoodConfig,
  type LikelihoodState,
  normalTail,
  updateTailProbability,
} from "./likelihood.ts";
import {
  createSortedWindow,
  pushValue,
  quantile,
  rebuildSorted,
  type SortedWindow,
} from "./sorted_window.ts";

/**
 * Engine parameters. Counts are in points (the figures in parentheses are for
 * a 5-minute cadence). Ship {@link DEFAULT_ENGINE_CONFIG}; it is the one
 * configuration the figures in `docs/statistics.md` are for.
 */
export interface EngineConfig extends LikelihoodConfig, ArtimeConfig {
  /** Points in the recent baseline window (1 day). @default {288} */
  windowSize: number;
  /** UTC time-of-day buckets of the seasonal baseline (30 min each). @default {48} */
  seasonBuckets: number;
  /** Weight of a new value in its bucket's mean/deviation. @default {0.05} */
  seasonAlpha: number;
  /** Visits a bucket needs before it is used. @default {5} */
  seasonMinCount: number;
  /** Milliseconds of history before the seasonal baseline is used. @default {172800000} (2 days) */
  seasonMinSpanMs: number;
  /**
   * The seasonal baseline is used when its mean absolute error is below this
   * fraction of the recent baseline's. @default {0.8}
   */
  seasonAdvantage: number;
  /** Weight of a new point in the two baselines' running absolute errors. @default {0.01} */
  errorAlpha: number;
  /**
   * Smallest scale (σ) of the baselines, as a fraction of max(|median|, recent
   * range): a constant or near-constant series does not turn a tiny change
   * into a huge z-score. @default {0.01}
   */
  relativeFloor: number;
  /**
   * Smallest scale (σ) of the baselines in the series' own units, for a series
   * that sits at exactly 0 (where the relative floor is 0): changes below about
   * this size never score high. @default {1e-6}
   */
  absoluteFloor: number;
  /** |z| up to which the raw score is 0. @default {2} */
  deviationFree: number;
  /** Raw score = 1 − exp(−(|z| − deviationFree) / deviationScale). @default {3} */
  deviationScale: number;
  /** Points before any non-zero score (learning only). @default {60} */
  warmupPoints: number;
  /**
   * Points of the early phase: until then only isolated outliers are scored
   * (the likelihood, new-extreme and shape detectors need more history).
   * @default {300}
   */
  earlyPoints: number;
  /**
   * An early outlier must be followed by a value within this fraction of
   * its deviation from the level before it (it returned). @default {0.25}
   */
  earlyReturn: number;
  /**
   * Score by the anomaly likelihood of the raw scores (true, shipped) or by
   * the raw score itself (false: the plain robust z-score reference, kept for
   * the ablation benchmark). @default {true}
   */
  likelihood: boolean;
  /** Points per block of the new-extreme range. @default {50} */
  rangeBlockSize: number;
  /** Blocks of the new-extreme range (2000 points ≈ 1 week). @default {40} */
  rangeBlocks: number;
  /** Margin beyond the range, as a fraction of it, for a new extreme. @default {0.15} */
  rangeTolerance: number;
  /** Run the ARTime shape detector. @default {true} */
  artime: boolean;
  /** ARTime confidence that scores `alarmScore` (its alarm threshold). @default {0.6} */
  artimeThreshold: number;
  /** Tail probability that scores `alarmScore`: the calibration of every detector. @default {1e-6} */
  alarmProbability: number;
  /** Score at which a point is an alarm. @default {0.5} */
  alarmScore: number;
  /** Points after an alarm during which further alarms are suppressed (12.5 h). @default {150} */
  cooldownPoints: number;
  /** Score a suppressed alarm is capped at. @default {0.3} */
  suppressedScore: number;
}

/** The one shipped configuration (used by the detector service and the backtest). */
export const DEFAULT_ENGINE_CONFIG: Readonly<EngineConfig> = Object.freeze({
  windowSize: 288,
  seasonBuckets: 48,
  seasonAlpha: 0.05,
  seasonMinCount: 5,
  seasonMinSpanMs: 2 * 86_400_000,
  seasonAdvantage: 0.8,
  errorAlpha: 0.01,
  relativeFloor: 0.01,
  absoluteFloor: 1e-6,
  deviationFree: 2,
  deviationScale: 3,
  averagingWindow: 10,
  blockSize: 100,
  blocks: 40,
  minMean: 0.03,
  minStd: 0.0173,
  warmupPoints: 60,
  earlyPoints: 300,
  earlyReturn: 0.25,
  likelihood: true,
  rangeBlockSize: 50,
  rangeBlocks: 40,
  rangeTolerance: 0.15,
  ...DEFAULT_ARTIME_CONFIG,
  artime: true,
  artimeThreshold: 0.6,
  alarmProbability: 1e-6,
  alarmScore: 0.5,
  cooldownPoints: 150,
  suppressedScore: 0.3,
});

/** Which baseline the expected range came from. */
export type Baseline = "none" | "recent" | "time-of-day";

/** Why the point scored as it did. */
export type Reason =
  | "missing"
  | "warming-up"
  | "normal"
  | "deviation"
  | "new-extreme"
  | "new-shape"
  | "early-outlier";

/** What was expected and what was seen, for alerts and the web detail view. */
export interface Explanation {
  /** Lower end of the expected range (NaN when nothing is expected yet). */
  expectedLow: number;
  /** Upper end of the expected range (NaN when nothing is expected yet). */
  expectedHigh: number;
  /** The value seen. */
  observed: number;
  /** Baseline the expected range comes from. */
  baseline: Baseline;
  /** Short classification of the point (the detector with the strongest evidence). */
  reason: Reason;
  /** Whether an alarm-level score was capped because of a recent alarm. */
  suppressed: boolean;
  /** One human sentence, e.g. "Observed 93.1, above the expected range 38.2 to 45.9 …". */
  summary: string;
}

/** Result of {@link update}. */
export interface UpdateResult {
  /** The updated state (the same object that was passed in). */
  state: SeriesState;
  /** Anomaly score in [0, 1]; ≥ `alarmScore` (0.5) is an alarm. */
  score: number;
  /** What was expected and what was seen. */
  explanation: Explanation;
}

/**
 * Per-series state: plain data (numbers and typed arrays), about 20 KB.
 * Checkpoint it with {@link serializeState}; treat it as opaque otherwise.
 */
export interface SeriesState {
  /** Finite values seen. */
  n: number;
  /** Missing (non-finite) values skipped. */
  missing: number;
  /** Timestamp (epoch ms) of the first finite value (0 before). */
  firstTs: number;
  /** Timestamp (epoch ms) of the last finite value (0 before). */
  lastTs: number;
  /** Recent baseline window. */
  window: SortedWindow;
  /** Per time-of-day bucket: robust mean. */
  seasonMean: Float64Array;
  /** Per time-of-day bucket: mean absolute deviation. */
  seasonDev: Float64Array;
  /** Per time-of-day bucket: visits. */
  seasonCount: Float64Array;
  /** Running mean absolute error of the recent baseline. */
  errRecent: number;
  /** Running mean absolute error of the time-of-day baseline. */
  errSeason: number;
  /** Per block: minimum value (ring). */
  rangeMin: Float64Array;
  /** Per block: maximum value (ring). */
  rangeMax: Float64Array;
  /** Next write index of the range rings. */
  rangeHead: number;
  /** Completed range blocks held. */
  rangeCount: number;
  /** Minimum of the block being filled (+Infinity when empty). */
  rangeCurMin: number;
  /** Maximum of the block being filled (−Infinity when empty). */
  rangeCurMax: number;
  /** Values in the block being filled. */
  rangeCurN: number;
  /** Likelihood stage. */
  likelihood: LikelihoodState;
  /** The last 8 values (ring at `n mod 8`), for the early-outlier detector. */
  recent: Float64Array;
  /** Running mean absolute first difference (clipped), for the early-outlier detector. */
  diffMean: number;
  /** ARTime shape detector. */
  artime: ArtimeState;
  /** Points since the last unsuppressed alarm (capped at `cooldownPoints`). */
  sinceAlarm: number;
}

const DAY_MS = 86_400_000;
/** Values kept for the early-outlier detector. */
const RECENT = 8;

const positiveInt = z.number().int().positive();
const configSchema = z.object({
  windowSize: positiveInt.min(10),
  seasonBuckets: positiveInt,
  seasonAlpha: z.number().gt(0).lte(1),
  seasonMinCount: z.number().int().nonnegative(),
  seasonMinSpanMs: z.number().nonnegative(),
  seasonAdvantage: z.number().nonnegative(),
  errorAlpha: z.number().gt(0).lte(1),
  relativeFloor: z.number().nonnegative(),
  absoluteFloor: z.number().positive(),
  deviationFree: z.number().nonnegative(),
  deviationScale: z.number().positive(),
  averagingWindow: positiveInt,
  blockSize: positiveInt,
  blocks: positiveInt,
  minMean: z.number().nonnegative(),
  minStd: z.number().positive(),
  warmupPoints: z.number().int().nonnegative(),
  earlyPoints: z.number().int().nonnegative(),
  earlyReturn: z.number().nonnegative(),
  likelihood: z.boolean(),
  rangeBlockSize: positiveInt,
  rangeBlocks: positiveInt,
  rangeTolerance: z.number().nonnegative(),
  artWindow: z.union([z.literal(2), z.literal(4), z.literal(8), z.literal(16)]),
  artDownsample: positiveInt,
  artTrendWindow: positiveInt,
  artLevels: positiveInt,
  artChomp: z.number().nonnegative(),
  artInitialRho: z.number().gt(0).lte(1),
  artMaxCategories: positiveInt.min(2),
  artRangeMargin: z.number().nonnegative(),
  artime: z.boolean(),
  artimeThreshold: z.number().gt(0).lt(1),
  alarmProbability: z.number().gt(0).lt(0.5),
  alarmScore: z.number().gt(0).lte(1),
  cooldownPoints: z.number().int().nonnegative(),
  suppressedScore: z.number().min(0).lte(1),
}).refine((c) => c.artTrendWindow >= 2 * c.artWindow, {
  message: "artTrendWindow must be at least 2 × artWindow",
  path: ["artTrendWindow"],
});

/**
 * Checks a configuration and returns it.
 *
 * @throws {RangeError} naming the first invalid field.
 */
export function validateConfig(config: EngineConfig): EngineConfig {
  const r = configSchema.safeParse(config);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new RangeError(
      `Cannot use engine config: ${issue?.path.join(".") ?? "?"}: ${issue?.message ?? "invalid"}`,
    );
  }
  return config;
}

/**
 * Creates the state of a new series.
 *
 * @throws {RangeError} if `config` is invalid.
 */
export function createSeriesState(config: EngineConfig = DEFAULT_ENGINE_CONFIG): SeriesState {
  validateConfig(config);
  return {
    n: 0,
    missing: 0,
    firstTs: 0,
    lastTs: 0,
    window: createSortedWindow(config.windowSize),
    seasonMean: new Float64Array(config.seasonBuckets),
    seasonDev: new Float64Array(config.seasonBuckets),
    seasonCount: new Float64Array(config.seasonBuckets),
    errRecent: 0,
    errSeason: 0,
    rangeMin: new Float64Array(config.rangeBlocks),
    rangeMax: new Float64Array(config.rangeBlocks),
    rangeHead: 0,
    rangeCount: 0,
    rangeCurMin: Infinity,
    rangeCurMax: -Infinity,
    rangeCurN: 0,
    likelihood: createLikelihoodState(config),
    recent: new Float64Array(RECENT),
    diffMean: 0,
    artime: createArtimeState(config),
    sinceAlarm: config.cooldownPoints,
  };
}

function assertCompatible(s: SeriesState, c: EngineConfig): void {
  const a = s.artime;
  const artOk = a.medbin.length === c.artLevels + 1 && a.used.length === c.artMaxCategories &&
    a.simDiff.length === c.artTrendWindow + 1 &&
    (artimeReady(a) ? a.cats.length === c.artMaxCategories * 4 * c.artWindow : a.cats.length === 0);
  if (
    s.window.ring.length !== c.windowSize || s.seasonMean.length !== c.seasonBuckets ||
    s.rangeMin.length !== c.rangeBlocks || s.likelihood.recent.length !== c.averagingWindow ||
    s.likelihood.blockSum.length !== c.blocks || a.dsRing.length !== c.artDownsample ||
    a.fwin.length !== c.artWindow || !artOk
  ) {
    throw new RangeError("Cannot update series: state was created with a different config");
  }
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e7 || a < 1e-4)) return x.toExponential(3);
  return String(Number(x.toPrecision(4)));
}

function bucketLabel(b: number, buckets: number): string {
  const mins = (m: number) => {
    const t = Math.round(m);
    return `${String(Math.floor(t / 60) % 24).padStart(2, "0")}:${String(t % 60).padStart(2, "0")}`;
  };
  const width = 1440 / buckets;
  return `${mins(b * width)}–${mins((b + 1) * width)} UTC`;
}

/**
 * The {@link Explanation} the engine returns: plain fields, with `summary`
 * built on first read (most points' explanations are never looked at).
 */
class LazyExplanation implements Explanation {
  #summary: string | undefined = undefined;
  constructor(
    readonly expectedLow: number,
    readonly expectedHigh: number,
    readonly observed: number,
    readonly baseline: Baseline,
    readonly reason: Reason,
    readonly suppressed: boolean,
    readonly score: number,
    readonly bucket: number,
    readonly n: number,
    readonly rangeLo: number,
    readonly rangeHi: number,
    /** Early outlier: the previous value; new shape: ARTime's confidence. */
    readonly detail: number,
    readonly config: EngineConfig,
  ) {}

  get summary(): string {
    return this.#summary ??= summarize(this);
  }

  toJSON(): Explanation {
    return {
      expectedLow: this.expectedLow,
      expectedHigh: this.expectedHigh,
      observed: this.observed,
      baseline: this.baseline,
      reason: this.reason,
      suppressed: this.suppressed,
      summary: this.summary,
    };
  }
}

function summarize(e: LazyExplanation): string {
  const c = e.config;
  const seen = `Observed ${fmt(e.observed)}`;
  switch (e.reason) {
    case "missing":
      return `Value missing or not a finite number (${e.observed}); skipped.`;
    case "warming-up":
      return `${seen}; still learning this series' normal (${e.n} of ${c.warmupPoints} points).`;
    default: {
      const source = e.baseline === "time-of-day"
        ? `usual for ${bucketLabel(e.bucket, c.seasonBuckets)}`
        : `recent values`;
      const where = e.observed > e.expectedHigh
        ? "above"
        : e.observed < e.expectedLow
        ? "below"
        : "within";
      let text = Number.isFinite(e.expectedLow)
        ? `${seen}, ${where} the expected range ${fmt(e.expectedLow)} to ${
          fmt(e.expectedHigh)
        } (${source})`
        : seen;
      if (e.reason === "new-extreme") {
        const extreme = e.observed > e.rangeHi
          ? `above the highest value (${fmt(e.rangeHi)})`
          : `below the lowest value (${fmt(e.rangeLo)})`;
        text += `, ${extreme} of the last ${c.rangeBlocks * c.rangeBlockSize} points`;
      } else if (e.reason === "new-shape") {
        text += `; the last ${
          c.artWindow * c.artDownsample
        } points form a shape not seen before (ARTime confidence ${e.detail.toFixed(2)})`;
      } else if (e.reason === "early-outlier") {
        text += `; the previous value ${
          fmt(e.detail)
        } was an isolated outlier (this one returned to the usual level)`;
      }
      text += `; anomaly score ${e.score.toFixed(2)}.`;
      if (e.suppressed) {
        text += ` Alarm suppressed: within ${c.cooldownPoints} points of the previous alarm.`;
      }
      return text;
    }
  }
}

/** Score of an ARTime confidence: `artimeThreshold` maps to `alarmScore`. */
function artimeScore(conf: number, c: EngineConfig): number {
  const t = c.artimeThreshold;
  const a = c.alarmScore;
  const s = conf >= t ? a + (1 - a) * (conf - t) / (1 - t) : a * conf / t;
  return s < 0 ? 0 : s > 1 ? 1 : s;
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
function earlyOutlier(s: SeriesState, x: number, c: EngineConfig, floor: number): number {
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
function earlyDeviation(s: SeriesState, x: number, floor: number): number {
  const n = s.n - 1;
  if (n < 6 || !(s.diffMean > 0)) return 1;
  const { ref, m } = localLevel(s, n);
  return 2 * normalTail(Math.abs(x - m) / localSigma(s, ref, floor));
}

/**
 * Scores one point and advances the series state.
 *
 * Mutates and returns `state` (no copy, for speed). A non-finite `value`
 * (NaN, ±Infinity: a missing point) scores 0 and leaves the learned state
 * unchanged apart from the `missing` count. Gaps in time need no special
 * handling; the time-of-day baseline uses `timestamp`, the rest counts points.
 *
 * @param timestamp epoch milliseconds (UTC) of the point.
 * @throws {TypeError} if `timestamp` is not finite.
 * @throws {RangeError} if `state` was created with a different configuration.
 */
export function update(
  state: SeriesState,
  timestamp: number,
  value: number,
  config: EngineConfig = DEFAULT_ENGINE_CONFIG,
): UpdateResult {
  const s = state;
  const c = config;
  if (!Number.isFinite(timestamp)) {
    throw new TypeError(`Cannot update series: timestamp ${timestamp} is not a finite number`);
  }
  assertCompatible(s, c);
  if (!Number.isFinite(value)) {
    s.missing++;
    const e = new LazyExplanation(
      NaN,
      NaN,
      value,
      "none",
      "missing",
      false,
      0,
      0,
      s.n,
      NaN,
      NaN,
      NaN,
      c,
    );
    return { state: s, score: 0, explanation: e };
  }
  const x = value + 0; // -0 → 0, so a restored (re-sorted) window is bit-identical
  if (s.n === 0) s.firstTs = timestamp;
  s.n++;
  s.lastTs = timestamp;
  const warm = s.n > c.warmupPoints;
  const mature = s.n > c.earlyPoints;

  // Range of the last rangeBlocks × rangeBlockSize points (before this one).
  let rangeLo = s.rangeCurMin;
  let rangeHi = s.rangeCurMax;
  for (let k = 0; k < s.rangeCount; k++) {
    if (s.rangeMin[k]! < rangeLo) rangeLo = s.rangeMin[k]!;
    if (s.rangeMax[k]! > rangeHi) rangeHi = s.rangeMax[k]!;
  }
  const span = rangeHi > rangeLo ? rangeHi - rangeLo : 0;

  // Baselines.
  const w = s.window;
  const bucket = Math.floor(((timestamp % DAY_MS + DAY_MS) % DAY_MS) / DAY_MS * c.seasonBuckets);
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

  // Time-of-day bucket update, clipped once established so that an outlier
  // moves the bucket by at most seasonAlpha × 4σ.
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

  // New extreme: beyond the recent range by a margin (once the range has history).
  let newExtreme = false;
  const tol = Math.max(c.rangeTolerance * span, 3 * floor);
  if (mature && s.rangeCount > 0) {
    newExtreme = x > rangeHi + tol || x < rangeLo - tol;
  }

  // Early outlier: the previous value, now that this one shows it returned.
  const r = s.recent;
  const prev = s.n >= 2 ? r[(s.n - 2) % RECENT]! : NaN;
  // (the candidate is the previous value: it must itself be after the warm-up and in the early phase)
  const earlyQ = s.n - 1 > c.warmupPoints && s.n - 1 <= c.earlyPoints
    ? earlyOutlier(s, x, c, floor)
    : 1;
  const nowQ = warm && !mature ? earlyDeviation(s, x, floor) : 1;
  if (s.n >= 2) {
    const dd = Math.abs(x - prev);
    // A plain mean over the first 300 differences, clipped at 4× the mean once
    // 10 are in (so outliers barely move it), then exponentially weighted.
    const k = s.n - 1;
    const clipped = k > 10 && dd > 4 * s.diffMean ? 4 * s.diffMean : dd;
    s.diffMean += (clipped - s.diffMean) / Math.min(k, 300);
  }
  r[(s.n - 1) % RECENT] = x;

  // Learn the point.
  pushValue(w, x);
  // A new extreme widens the range by at most one tolerance per point, so a
  // lone spike does not hide the next one; a lasting shift is caught up in a
  // few points (each step also widens the tolerance).
  const xr = newExtreme
    ? (x > rangeHi ? Math.min(x, rangeHi + tol) : Math.max(x, rangeLo - tol))
    : x;
  if (xr < s.rangeCurMin) s.rangeCurMin = xr;
  if (xr > s.rangeCurMax) s.rangeCurMax = xr;
  if (++s.rangeCurN >= c.rangeBlockSize) {
    s.rangeMin[s.rangeHead] = s.rangeCurMin;
    s.rangeMax[s.rangeHead] = s.rangeCurMax;
    s.rangeHead = s.rangeHead + 1 === c.rangeBlocks ? 0 : s.rangeHead + 1;
    if (s.rangeCount < c.rangeBlocks) s.rangeCount++;
    s.rangeCurMin = Infinity;
    s.rangeCurMax = -Infinity;
    s.rangeCurN = 0;
  }

  // Evidence of each detector on one scale, fused by the strongest.
  const az = Math.abs(zScore);
  const raw = az > c.deviationFree ? 1 - Math.exp(-(az - c.deviationFree) / c.deviationScale) : 0;
  const q = updateTailProbability(s.likelihood, raw, c);
  const artConf = c.artime ? updateArtime(s.artime, x, c) : 0;
  let score = 0;
  let reason: Reason = !warm ? "warming-up" : "normal";
  let detail = NaN;
  if (mature) {
    score = c.likelihood ? (q < 1 ? calibratedScore(q, c.alarmProbability) : 0) : raw;
    if (score >= c.alarmScore || raw > 0) reason = "deviation";
  }
  if (nowQ < 1) {
    // Graded but never an alarm: a young series' value is confirmed an outlier
    // only when the next one returns (below).
    score = Math.min(calibratedScore(nowQ, c.alarmProbability), c.suppressedScore);
  }
  if (earlyQ < 1) {
    const e = calibratedScore(earlyQ, c.alarmProbability);
    if (e > score) {
      score = e;
      if (e >= c.alarmScore) {
        reason = "early-outlier";
        detail = prev;
      }
    }
  }
  if (artConf > 0) {
    const a = artimeScore(artConf, c);
    if (a > score) {
      score = a;
      if (a >= c.alarmScore) {
        reason = "new-shape";
        detail = artConf;
      }
    }
  }
  if (newExtreme) {
    score = 1;
    reason = "new-extreme";
  }
  if (!warm) score = 0;
  let suppressed = false;
  if (score >= c.alarmScore) {
    if (s.sinceAlarm < c.cooldownPoints) {
      score = Math.min(score, c.suppressedScore);
      suppressed = true;
    } else {
      s.sinceAlarm = 0;
    }
  }
  if (s.sinceAlarm < c.cooldownPoints) s.sinceAlarm++;

  const band = 3 * scale;
  const explanation = new LazyExplanation(
    center - band,
    center + band,
    x,
    baseline,
    reason,
    suppressed,
    score,
    bucket,
    s.n,
    rangeLo,
    rangeHi,
    detail,
    c,
  );
  return { state: s, score, explanation };
}

// ---------------------------------------------------------------------------
// Checkpoints
// ---------------------------------------------------------------------------

const FORMAT_VERSION = 2;

const checkpointSchema = z.object({
  v: z.literal(FORMAT_VERSION),
  /**
   * windowSize, seasonBuckets, rangeBlocks, averagingWindow, blocks,
   * artWindow, artDownsample, artTrendWindow, artLevels, artMaxCategories,
   * ARTime initialisation values held, ARTime categories in use
   */
  dims: z.tuple([
    positiveInt,
    positiveInt,
    positiveInt,
    positiveInt,
    positiveInt,
    positiveInt,
    positiveInt,
    positiveInt,
    positiveInt,
    positiveInt,
    z.number().int().nonnegative(),
    z.number().int().nonnegative(),
  ]),
  /** scalars, float64 base64 */
  s: z.string(),
  /** arrays, float64 base64 */
  a: z.string(),
  /** ARTime category weights, uint16 base64 */
  c: z.string(),
});

/** ARTime scalars in checkpoint order. */
const ARTIME_SCALARS = [
  "i",
  "dsi",
  "dsHead",
  "dsMa",
  "rawMin",
  "rawMax",
  "dmin",
  "dmax",
  "medlevel",
  "belowmed",
  "abovemed",
  "nCats",
  "tick",
  "rhoLb",
  "rhoUb",
  "lastAnomI",
  "lastAnomSim",
  "lastRhoI",
  "maskAfterCat",
  "noNewCat",
  "simSum",
  "simN",
  "simWindowHead",
  "simDiffHead",
  "anomSimSum",
  "anomSimLast",
  "anomSimN",
] as const satisfies readonly (keyof ArtimeState)[];

const CORE_SCALARS = 22;
const SCALARS = CORE_SCALARS + ARTIME_SCALARS.length;

/**
 * Serialises `state` to a compact string (JSON with base64 float64 and
 * uint16 payloads; at most ≈ 24 KB for the default configuration).
 * {@link restoreState} gives back a state that scores every later point
 * identically.
 */
export function serializeState(state: SeriesState): string {
  const s = state;
  const l = s.likelihood;
  const w = s.window;
  const a = s.artime;
  const scalars = new Float64Array([
    s.n,
    s.missing,
    s.firstTs,
    s.lastTs,
    w.head,
    w.count,
    s.errRecent,
    s.errSeason,
    s.rangeHead,
    s.rangeCount,
    s.rangeCurMin,
    s.rangeCurMax,
    s.rangeCurN,
    s.sinceAlarm,
    l.recentHead,
    l.blockHead,
    l.blockCount,
    l.curSum,
    l.curSumSq,
    l.curN,
    l.mean,
    s.diffMean,
    ...ARTIME_SCALARS.map((k) => a[k]),
  ]);
  const parts = [
    w.ring,
    s.seasonMean,
    s.seasonDev,
    s.seasonCount,
    s.rangeMin,
    s.rangeMax,
    l.recent,
    l.blockSum,
    l.blockSumSq,
    new Float64Array([l.std]),
    s.recent,
    a.dsRing,
    a.initRaw,
    // ARTime's bookkeeping is still at its initial values during its
    // initialisation period: left out then (restore recreates it).
    ...(artimeReady(a)
      ? [a.medbin, a.fwin, a.used.subarray(0, a.nCats), a.simWindow, a.simDiff]
      : []),
  ];
  let total = 0;
  for (const p of parts) total += p.length;
  const arrays = new Float64Array(total);
  let off = 0;
  for (const p of parts) {
    arrays.set(p, off);
    off += p.length;
  }
  const catWidth = 4 * a.fwin.length;
  return JSON.stringify({
    v: FORMAT_VERSION,
    dims: [
      w.ring.length,
      s.seasonMean.length,
      s.rangeMin.length,
      l.recent.length,
      l.blockSum.length,
      a.fwin.length,
      a.dsRing.length,
      a.simDiff.length - 1,
      a.medbin.length - 1,
      a.used.length,
      a.initRaw.length,
      a.nCats,
    ],
    s: encodeFloat64(scalars),
    a: encodeFloat64(arrays),
    c: encodeUint16(a.cats.subarray(0, a.nCats * catWidth)),
  });
}

function fail(reason: string): never {
  throw new TypeError(`Cannot restore series state: ${reason}`);
}

function index(value: number, name: string, max: number): number {
  if (!Number.isInteger(value) || value < 0 || value > max) fail(`${name} ${value} out of range`);
  return value;
}

/**
 * Restores a state from {@link serializeState} output, validating it.
 *
 * @throws {TypeError} if `text` is not a valid checkpoint.
 */
export function restoreState(text: string): SeriesState {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    fail("not JSON");
  }
  const parsed = checkpointSchema.safeParse(json);
  if (!parsed.success) {
    fail(`bad checkpoint shape (${parsed.error.issues[0]?.message ?? "invalid"})`);
  }
  const { dims, s: sText, a: aText, c: cText } = parsed.data;
  const [W, B, R, A, K, AW, AD, AT, AL, AM, AI, AN] = dims;
  if (AI !== 0 && AI !== AT) fail(`ARTime initialisation values ${AI} out of range`);
  if (AN > AM || (AI !== 0 && AN !== 0)) fail(`ARTime categories ${AN} out of range`);
  if (![2, 4, 8, 16].includes(AW)) fail(`ARTime window ${AW} out of range`);
  const sc = decodeFloat64(sText);
  const arr = decodeFloat64(aText);
  const cats = decodeUint16(cText);
  if (sc.length !== SCALARS) fail(`expected ${SCALARS} scalars, got ${sc.length}`);
  const half = Math.floor(AT / 2) + 1;
  const ready = AI === 0;
  const expected = W + 3 * B + 2 * R + A + 2 * K + 1 + RECENT + AD + AI +
    (ready ? (AL + 1) + AW + AN + half + (AT + 1) : 0);
  if (arr.length !== expected) fail(`expected ${expected} array values, got ${arr.length}`);
  if (cats.length !== AN * 4 * AW) fail(`expected ${AN * 4 * AW} category weights`);
  for (let i = 0; i < arr.length; i++) {
    if (!Number.isFinite(arr[i]!)) fail("non-finite array value");
  }
  let off = 0;
  const take = (len: number) => {
    const out = arr.slice(off, off + len);
    off += len;
    return out;
  };
  const ring = take(W);
  const seasonMean = take(B);
  const seasonDev = take(B);
  const seasonCount = take(B);
  const rangeMin = take(R);
  const rangeMax = take(R);
  const recent = take(A);
  const blockSum = take(K);
  const blockSumSq = take(K);
  const std = take(1)[0]!;
  const recentValues = take(RECENT);
  const dsRing = take(AD);
  const initRaw = take(AI);
  const medbin = ready ? take(AL + 1) : new Float64Array(AL + 1);
  const fwin = ready ? take(AW) : new Float64Array(AW);
  const used = new Float64Array(AM);
  if (ready) used.set(take(AN));
  const simWindow = ready ? take(half) : new Float64Array(half).fill(1);
  const simDiff = ready ? take(AT + 1) : new Float64Array(AT + 1);
  const num = (i: number, name: string) => {
    const v = sc[i]!;
    if (!Number.isFinite(v)) fail(`${name} is not finite`);
    return v;
  };
  const n = index(sc[0]!, "n", Number.MAX_SAFE_INTEGER);
  const count = index(sc[5]!, "window count", W);
  const window: SortedWindow = {
    ring,
    sorted: new Float64Array(W),
    head: index(sc[4]!, "window head", W - 1),
    count,
  };
  if (count < W && window.head !== count) fail("window head and count disagree");
  rebuildSorted(window);
  const rangeCurMin = sc[10]!;
  const rangeCurMax = sc[11]!;
  if (Number.isNaN(rangeCurMin) || Number.isNaN(rangeCurMax)) fail("range bounds are NaN");
  const as: Record<string, number> = {};
  ARTIME_SCALARS.forEach((k, j) => {
    as[k] = sc[CORE_SCALARS + j]!;
  });
  for (const k of ARTIME_SCALARS) {
    const v = as[k]!;
    const nanOk = k === "dmin" || k === "dmax";
    const infOk = k === "rawMin" || k === "rawMax";
    if (Number.isNaN(v) ? !nanOk : !Number.isFinite(v) && !infOk) fail(`ARTime ${k} is not finite`);
  }
  if (AI === 0 ? Number.isNaN(as.dmin!) || Number.isNaN(as.dmax!) : !Number.isNaN(as.dmin!)) {
    fail("ARTime range and initialisation disagree");
  }
  // The weights exist once ARTime's initialisation is over (none before).
  const fullCats = new Uint16Array(AI === 0 ? AM * 4 * AW : 0);
  fullCats.set(cats);
  const artime: ArtimeState = {
    i: index(as.i!, "ARTime points", Number.MAX_SAFE_INTEGER),
    dsi: index(as.dsi!, "ARTime step", Number.MAX_SAFE_INTEGER),
    dsRing,
    dsHead: index(as.dsHead!, "ARTime ring head", AD - 1),
    dsMa: as.dsMa!,
    rawMin: as.rawMin!,
    rawMax: as.rawMax!,
    initRaw,
    dmin: as.dmin!,
    dmax: as.dmax!,
    medbin,
    medlevel: index(as.medlevel!, "ARTime median level", AL),
    belowmed: as.belowmed!,
    abovemed: as.abovemed!,
    fwin,
    cats: fullCats,
    wsum: new Float64Array(AM),
    nCats: index(as.nCats!, "ARTime categories", AM),
    used,
    tick: as.tick!,
    rhoLb: as.rhoLb!,
    rhoUb: as.rhoUb!,
    lastAnomI: as.lastAnomI!,
    lastAnomSim: as.lastAnomSim!,
    lastRhoI: as.lastRhoI!,
    maskAfterCat: index(as.maskAfterCat!, "ARTime mask", 1),
    noNewCat: as.noNewCat!,
    simSum: as.simSum!,
    simN: as.simN!,
    simWindow,
    simWindowHead: index(as.simWindowHead!, "ARTime similarity head", half - 1),
    simDiff,
    simDiffHead: index(as.simDiffHead!, "ARTime gap head", AT),
    anomSimSum: as.anomSimSum!,
    anomSimLast: as.anomSimLast!,
    anomSimN: as.anomSimN!,
  };
  if (artime.nCats !== AN) fail("ARTime category count disagrees");
  rebuildWeightSums(artime);
  const state: SeriesState = {
    n,
    missing: index(sc[1]!, "missing", Number.MAX_SAFE_INTEGER),
    firstTs: num(2, "firstTs"),
    lastTs: num(3, "lastTs"),
    window,
    seasonMean,
    seasonDev,
    seasonCount,
    errRecent: num(6, "errRecent"),
    errSeason: num(7, "errSeason"),
    rangeMin,
    rangeMax,
    rangeHead: index(sc[8]!, "range head", R - 1),
    rangeCount: index(sc[9]!, "range count", R),
    rangeCurMin,
    rangeCurMax,
    rangeCurN: index(sc[12]!, "range block fill", Number.MAX_SAFE_INTEGER),
    likelihood: {
      recent,
      recentHead: index(sc[14]!, "likelihood head", A - 1),
      blockSum,
      blockSumSq,
      blockHead: index(sc[15]!, "likelihood block head", K - 1),
      blockCount: index(sc[16]!, "likelihood block count", K),
      curSum: num(17, "likelihood sum"),
      curSumSq: num(18, "likelihood sum of squares"),
      curN: index(sc[19]!, "likelihood block fill", Number.MAX_SAFE_INTEGER),
      mean: num(20, "likelihood mean"),
      std,
    },
    recent: recentValues,
    diffMean: num(21, "mean first difference"),
    artime,
    sinceAlarm: index(sc[13]!, "sinceAlarm", Number.MAX_SAFE_INTEGER),
  };
  return state;
}

/** Bytes of typed arrays a state holds in memory (the bounded part; scalars excluded). */
export function stateBytes(state: SeriesState): number {
  const s = state;
  const a = s.artime;
  const l = s.likelihood;
  const arrays = [
    s.window.ring,
    s.window.sorted,
    s.seasonMean,
    s.seasonDev,
    s.seasonCount,
    s.rangeMin,
    s.rangeMax,
    l.recent,
    l.blockSum,
    l.blockSumSq,
    s.recent,
    a.dsRing,
    a.initRaw,
    a.medbin,
    a.fwin,
    a.cats,
    a.wsum,
    a.used,
    a.simWindow,
    a.simDiff,
  ];
  return arrays.reduce((n, x) => n + x.byteLength, 0);
}

export { artimeReady };
