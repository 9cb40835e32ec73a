/**
 * A fixed-capacity sliding window of the most recent values that also keeps
 * them sorted, so quantiles (median, quartiles) of the window cost O(1) to
 * read and O(capacity) memory moves to update (a native `copyWithin`).
 *
 * Plain data: two `Float64Array`s and two counters. Only `ring`, `head` and
 * `count` carry information; `sorted` can be rebuilt from them
 * ({@link rebuildSorted}), which is what checkpoint restore does.
 *
 * @module
 */

import { type Float64Alloc, separateFloat64 } from "./arena.ts";

/** Sliding window state: insertion-ordered ring plus a sorted copy. */
export interface SortedWindow {
  /** The last `count` values in insertion order, oldest at `head` once full. */
  ring: Float64Array;
  /** The same `count` values sorted ascending in `sorted[0..count)`. */
  sorted: Float64Array;
  /** Index in `ring` where the next value is written. */
  head: number;
  /** Number of values held (≤ capacity). */
  count: number;
}

/**
 * Creates an empty window holding at most `capacity` values, its arrays
 * from `alloc` (`ring`, then `sorted`).
 */
export function createSortedWindow(
  capacity: number,
  alloc: Float64Alloc = separateFloat64,
): SortedWindow {
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new RangeError(
      `Cannot create window: capacity must be a positive integer, got ${capacity}`,
    );
  }
  return {
    ring: alloc(capacity),
    sorted: alloc(capacity),
    head: 0,
    count: 0,
  };
}

/** First index in `a[from..to)` (sorted) whose value is ≥ `x`. */
function lowerBound(a: Float64Array, from: number, to: number, x: number): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Appends a finite `value`, evicting the oldest value when full.
 * Mutates `w`.
 */
export function pushValue(w: SortedWindow, value: number): void {
  const cap = w.ring.length;
  const sorted = w.sorted;
  if (w.count === cap) {
    // Replace the oldest value by the new one in the sorted copy: only the
    // values between the two positions move, by one.
    const old = w.ring[w.head]!;
    w.ring[w.head] = value;
    w.head = w.head + 1 === cap ? 0 : w.head + 1;
    const i = lowerBound(sorted, 0, cap, old);
    if (value > old) {
      const j = lowerBound(sorted, i + 1, cap, value);
      for (let k = i; k < j - 1; k++) sorted[k] = sorted[k + 1]!;
      sorted[j - 1] = value;
    } else if (value < old) {
      const j = lowerBound(sorted, 0, i, value);
      for (let k = i; k > j; k--) sorted[k] = sorted[k - 1]!;
      sorted[j] = value;
    }
    return;
  }
  w.ring[w.head] = value;
  w.head = w.head + 1 === cap ? 0 : w.head + 1;
  const j = lowerBound(sorted, 0, w.count, value);
  sorted.copyWithin(j + 1, j, w.count);
  sorted[j] = value;
  w.count++;
}

/**
 * The `q`-quantile (0 ≤ q ≤ 1) of the values held, by linear interpolation
 * between order statistics. NaN when the window is empty.
 */
export function quantile(w: SortedWindow, q: number): number {
  const n = w.count;
  if (n === 0) return NaN;
  const pos = q * (n - 1);
  const i = Math.floor(pos);
  const f = pos - i;
  const v = w.sorted[i]!;
  return f > 0 && i + 1 < n ? v + (w.sorted[i + 1]! - v) * f : v;
}

/** Recomputes `sorted` from `ring`/`head`/`count` (after a restore). Mutates `w`. */
export function rebuildSorted(w: SortedWindow): void {
  // Until the ring first wraps, its values sit in ring[0..count); once full,
  // the whole ring is held. Order does not matter for sorting.
  w.sorted.set(w.ring.subarray(0, w.count));
  w.sorted.subarray(0, w.count).sort();
  w.sorted.fill(0, w.count);
}
