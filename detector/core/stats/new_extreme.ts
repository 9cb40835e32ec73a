/**
 * The new-extreme detector: a value beyond the minimum/maximum of the last
 * `rangeBlocks × rangeBlockSize` points by more than `rangeTolerance` of that
 * range. The range is kept as per-block minima and maxima (a ring of
 * `rangeBlocks` blocks of `rangeBlockSize` points) plus the block being
 * filled.
 *
 * @module
 */

import type { EngineConfig } from "./config.ts";
import type { SeriesState } from "./series_state.ts";

/** The range of the points before the current one. */
export interface Range {
  /** Lowest value (+Infinity before any point). */
  lo: number;
  /** Highest value (−Infinity before any point). */
  hi: number;
  /** hi − lo, or 0 when there is no range yet. */
  span: number;
}

/** The range of the last `rangeBlocks × rangeBlockSize` points (before this one), into `out`. */
export function recentRange(s: SeriesState, out: Range): Range {
  const lo = s.rangeBlocksMin < s.rangeCurMin ? s.rangeBlocksMin : s.rangeCurMin;
  const hi = s.rangeBlocksMax > s.rangeCurMax ? s.rangeBlocksMax : s.rangeCurMax;
  out.lo = lo;
  out.hi = hi;
  out.span = hi > lo ? hi - lo : 0;
  return out;
}

/**
 * Recomputes the minimum and maximum over the completed blocks (when a
 * block completes, and after a restore). Mutates `s`.
 */
export function rebuildBlockRange(s: SeriesState): void {
  let lo = Infinity;
  let hi = -Infinity;
  for (let k = 0; k < s.rangeCount; k++) {
    if (s.rangeMin[k]! < lo) lo = s.rangeMin[k]!;
    if (s.rangeMax[k]! > hi) hi = s.rangeMax[k]!;
  }
  s.rangeBlocksMin = lo;
  s.rangeBlocksMax = hi;
}

/**
 * Margin beyond the range for a new extreme: `rangeTolerance` of the range,
 * and at least 3 × `floor` (the baselines' smallest scale).
 */
export function extremeTolerance(r: Range, floor: number, c: EngineConfig): number {
  return Math.max(c.rangeTolerance * r.span, 3 * floor);
}

/** Is `x` a new extreme (once the range has a completed block)? */
export function isNewExtreme(s: SeriesState, x: number, r: Range, tol: number): boolean {
  return s.rangeCount > 0 && (x > r.hi + tol || x < r.lo - tol);
}

/**
 * Learns `x` into the range. A new extreme widens the range by at most one
 * tolerance per point, so a lone spike does not hide the next one; a lasting
 * shift is caught up in a few points (each step also widens the tolerance).
 * Mutates `s`.
 */
export function learnRange(
  s: SeriesState,
  x: number,
  newExtreme: boolean,
  r: Range,
  tol: number,
  c: EngineConfig,
): void {
  const xr = newExtreme ? (x > r.hi ? Math.min(x, r.hi + tol) : Math.max(x, r.lo - tol)) : x;
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
    rebuildBlockRange(s);
  }
}
