/**
 * The per-series state of the engine: what it holds, how a new one is made,
 * the check that a state fits a configuration, and its size in memory.
 *
 * @module
 */

import { createArena } from "./arena.ts";
import { artimeReady, type ArtimeState, createArtimeState } from "./artime.ts";
import { DEFAULT_ENGINE_CONFIG, type EngineConfig, validateConfig } from "./config.ts";
import { createLikelihoodState, type LikelihoodState } from "./likelihood.ts";
import { createSortedWindow, type SortedWindow } from "./sorted_window.ts";

/**
 * Per-series state: plain data (numbers and typed arrays), about 20 KB.
 * Checkpoint it with `serializeState` (`checkpoint.ts`); treat it as opaque
 * otherwise.
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
  /** Minimum over the completed range blocks (derived from `rangeMin`; +Infinity when none). */
  rangeBlocksMin: number;
  /** Maximum over the completed range blocks (derived from `rangeMax`; −Infinity when none). */
  rangeBlocksMax: number;
  /**
   * The frozen configuration {@link assertCompatible} last accepted for this
   * state (a cache, not checkpointed; null until the first check).
   */
  checkedWith: Readonly<EngineConfig> | null;
}

/** Values kept for the early-outlier detector. */
export const RECENT = 8;

/** The configuration fields that size a state's arrays. */
export type StateDims = Pick<
  EngineConfig,
  | "windowSize"
  | "seasonBuckets"
  | "rangeBlocks"
  | "averagingWindow"
  | "blocks"
  | "artWindow"
  | "artDownsample"
  | "artTrendWindow"
  | "artLevels"
  | "artMaxCategories"
>;

/** Values of the one buffer holding a state's `Float64Array`s (all but ARTime's initialisation buffer). */
function arenaLength(d: StateDims): number {
  return RECENT + d.averagingWindow + 2 * d.blocks + d.artDownsample + (d.artLevels + 1) +
    d.artWindow + 2 * d.artMaxCategories + (Math.floor(d.artTrendWindow / 2) + 1) +
    (d.artTrendWindow + 1) + 3 * d.seasonBuckets + 2 * d.rangeBlocks + 2 * d.windowSize;
}

/**
 * Allocates the state of a new series of dimensions `d` (not validated:
 * {@link createSeriesState} validates a configuration, checkpoint restore its
 * dimensions). Its `Float64Array`s are consecutive views of one buffer, the
 * ones every point touches first; ARTime's initialisation buffer is an array
 * of its own (released when the initialisation ends) and its category
 * weights come then.
 */
export function allocateSeriesState(d: StateDims, sinceAlarm: number): SeriesState {
  const alloc = createArena(arenaLength(d));
  // Per point: the recent values, the likelihood's raw scores, ARTime's
  // downsampling ring (then, every few points, the rest of ARTime), one
  // time-of-day bucket, the range (every block), and the sorted window.
  const recent = alloc(RECENT);
  const likelihood = createLikelihoodState(d, alloc);
  const artime = createArtimeState(d, alloc);
  const seasonMean = alloc(d.seasonBuckets);
  const seasonDev = alloc(d.seasonBuckets);
  const seasonCount = alloc(d.seasonBuckets);
  const rangeMin = alloc(d.rangeBlocks);
  const rangeMax = alloc(d.rangeBlocks);
  const window = createSortedWindow(d.windowSize, alloc);
  return {
    n: 0,
    missing: 0,
    firstTs: 0,
    lastTs: 0,
    window,
    seasonMean,
    seasonDev,
    seasonCount,
    errRecent: 0,
    errSeason: 0,
    rangeMin,
    rangeMax,
    rangeHead: 0,
    rangeCount: 0,
    rangeCurMin: Infinity,
    rangeCurMax: -Infinity,
    rangeCurN: 0,
    likelihood,
    recent,
    diffMean: 0,
    artime,
    sinceAlarm,
    rangeBlocksMin: Infinity,
    rangeBlocksMax: -Infinity,
    checkedWith: null,
  };
}

/**
 * Creates the state of a new series.
 *
 * @throws {RangeError} if `config` is invalid.
 */
export function createSeriesState(config: EngineConfig = DEFAULT_ENGINE_CONFIG): SeriesState {
  validateConfig(config);
  return allocateSeriesState(config, config.cooldownPoints);
}

/**
 * Checks that `s` was created with a configuration of the same dimensions
 * as `c`. A frozen `c` that passed is remembered in the state, so the check
 * costs one comparison on the next points (the shipped configuration is
 * frozen; the engine itself only allocates with the dimensions it checked).
 *
 * @throws {RangeError} if it was not.
 */
export function assertCompatible(s: SeriesState, c: EngineConfig): void {
  if (s.checkedWith === c) return;
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
  s.checkedWith = Object.isFrozen(c) ? c : null;
}

/**
 * The season, range and likelihood arrays of a state, in the order the
 * checkpoint writes them (checkpoint.ts).
 */
export function historyArrays(state: SeriesState): Float64Array[] {
  const s = state;
  const l = s.likelihood;
  return [
    s.seasonMean,
    s.seasonDev,
    s.seasonCount,
    s.rangeMin,
    s.rangeMax,
    l.recent,
    l.blockSum,
    l.blockSumSq,
  ];
}

/** Bytes of typed arrays a state holds in memory (the bounded part; scalars excluded). */
export function stateBytes(state: SeriesState): number {
  const s = state;
  const a = s.artime;
  const arrays = [
    s.window.ring,
    s.window.sorted,
    ...historyArrays(s),
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
