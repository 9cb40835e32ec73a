/**
 * ARTime's parameters and per-series state (plain numbers and typed arrays),
 * see `artime.ts` for the detector itself.
 *
 * @module
 */

import { type Float64Alloc, separateFloat64 } from "./arena.ts";

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
 * Creates the ARTime state of a new series, its arrays from `alloc` (in
 * this order: `dsRing`, `medbin`, `fwin`, `wsum`, `used`, `simWindow`,
 * `simDiff`). Its category weights (the bulk of it) are allocated when the
 * initialisation period ends (`allocateNetwork` in `artime.ts`), so a
 * short-lived series stays small; its initialisation buffer (released then)
 * is always an array of its own.
 */
export function createArtimeState(
  c: Pick<
    ArtimeConfig,
    "artWindow" | "artDownsample" | "artTrendWindow" | "artLevels" | "artMaxCategories"
  > = DEFAULT_ARTIME_CONFIG,
  alloc: Float64Alloc = separateFloat64,
): ArtimeState {
  return {
    i: 0,
    dsi: 1,
    dsRing: alloc(c.artDownsample),
    dsHead: 0,
    dsMa: 0,
    rawMin: Infinity,
    rawMax: -Infinity,
    initRaw: new Float64Array(c.artTrendWindow),
    dmin: NaN,
    dmax: NaN,
    medbin: alloc(c.artLevels + 1),
    medlevel: 0,
    belowmed: 0,
    abovemed: 0,
    fwin: alloc(c.artWindow),
    cats: new Uint16Array(0),
    wsum: alloc(c.artMaxCategories),
    nCats: 0,
    used: alloc(c.artMaxCategories),
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
    simWindow: alloc(Math.floor(c.artTrendWindow / 2) + 1).fill(1),
    simWindowHead: 0,
    simDiff: alloc(c.artTrendWindow + 1),
    simDiffHead: 0,
    anomSimSum: 0,
    anomSimLast: 0,
    anomSimN: 0,
  };
}
