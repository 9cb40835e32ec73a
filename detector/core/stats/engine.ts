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

import { updateArtime } from "./artime.ts";
import { type BaselineFit, fitBaseline, learnTimeOfDay, timeOfDayBucket } from "./baselines.ts";
import { DEFAULT_ENGINE_CONFIG, type EngineConfig } from "./config.ts";
import { type EarlyEvidence, earlyPhase } from "./early_phase.ts";
import { type Explanation, LazyExplanation, missingExplanation } from "./explanation.ts";
import { type Evidence, fuse, type Fused, rawScore } from "./fusion.ts";
import { updateTailProbability } from "./likelihood.ts";
import {
  extremeTolerance,
  isNewExtreme,
  learnRange,
  type Range,
  recentRange,
} from "./new_extreme.ts";
import { assertCompatible, type SeriesState } from "./series_state.ts";
import { pushValue } from "./sorted_window.ts";

export { restoreState, serializeState } from "./checkpoint.ts";
export { DEFAULT_ENGINE_CONFIG, type EngineConfig, validateConfig } from "./config.ts";
export { createSeriesState, type SeriesState, stateBytes } from "./series_state.ts";

/** Result of {@link update}. */
export interface UpdateResult {
  /** The updated state (the same object that was passed in). */
  state: SeriesState;
  /** Anomaly score in [0, 1]; ≥ `alarmScore` (0.5) is an alarm. */
  score: number;
  /** What was expected and what was seen. */
  explanation: Explanation;
}

// Intermediate results of one update (single-threaded and never re-entered,
// so one set serves every call; nothing is kept between calls).
const range: Range = { lo: 0, hi: 0, span: 0 };
const fit: BaselineFit = { z: 0, center: NaN, scale: NaN, floor: 0, baseline: "none" };
const early: EarlyEvidence = { prev: NaN, outlierQ: 1, deviationQ: 1 };
const evidence: Evidence = {
  warm: false,
  mature: false,
  raw: 0,
  q: 1,
  deviationQ: 1,
  outlierQ: 1,
  prev: NaN,
  artConf: 0,
  newExtreme: false,
};
const fused: Fused = { score: 0, reason: "normal", detail: NaN, suppressed: false };

/**
 * Largest magnitude the engine learns and scores a value at: beyond it a
 * value counts as ±VALUE_LIMIT (its explanation still shows it as seen). The
 * engine's arithmetic (ARTime's sum of a downsampling window, the margins
 * beyond the range, the expected range) stays finite below ~1e307, where a
 * reading near `Number.MAX_VALUE` would turn the state into ±Infinity and NaN
 * for good, and its checkpoint into one that cannot be restored.
 */
export const VALUE_LIMIT = 1e300;

/**
 * Scores one point and advances the series state.
 *
 * Mutates and returns `state` (no copy, for speed). A non-finite `value`
 * (NaN, ±Infinity: a missing point) scores 0 and leaves the learned state
 * unchanged apart from the `missing` count; a finite value beyond
 * ±{@link VALUE_LIMIT} is learned and scored as ±VALUE_LIMIT. Gaps in time need no special
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
    return { state: s, score: 0, explanation: missingExplanation(value, s.n, c) };
  }
  // -0 → 0, so a restored (re-sorted) window is bit-identical.
  const x = value > VALUE_LIMIT ? VALUE_LIMIT : value < -VALUE_LIMIT ? -VALUE_LIMIT : value + 0;
  if (s.n === 0) s.firstTs = timestamp;
  s.n++;
  s.lastTs = timestamp;
  const warm = s.n > c.warmupPoints;
  const mature = s.n > c.earlyPoints;

  // What the point is compared with: the recent range and the baselines.
  const r = recentRange(s, range);
  const bucket = timeOfDayBucket(timestamp, c.seasonBuckets);
  const b = fitBaseline(s, x, timestamp, bucket, r.span, c, fit);
  learnTimeOfDay(s, x, bucket, b.floor, c);
  const tol = extremeTolerance(r, b.floor, c);
  const newExtreme = mature && isNewExtreme(s, x, r, tol);
  const e = earlyPhase(s, x, b.floor, c, early);

  // Learn the point.
  pushValue(s.window, x);
  learnRange(s, x, newExtreme, r, tol, c);

  // Evidence of each detector on one scale, fused by the strongest.
  const ev = evidence;
  ev.warm = warm;
  ev.mature = mature;
  ev.raw = rawScore(b.z, c);
  ev.q = updateTailProbability(s.likelihood, ev.raw, c);
  ev.artConf = c.artime ? updateArtime(s.artime, x, c) : 0;
  ev.deviationQ = e.deviationQ;
  ev.outlierQ = e.outlierQ;
  ev.prev = e.prev;
  ev.newExtreme = newExtreme;
  const f = fuse(s, ev, c, fused);

  const band = 3 * b.scale;
  const explanation = new LazyExplanation(
    b.center - band,
    b.center + band,
    value + 0,
    b.baseline,
    f.reason,
    f.suppressed,
    f.score,
    bucket,
    s.n,
    r.lo,
    r.hi,
    f.detail,
    c,
  );
  return { state: s, score: f.score, explanation };
}
