/**
 * Allocation of a series' `Float64Array`s: either each on its own, or as
 * consecutive views into one buffer (an arena), so that the arrays a point
 * touches sit together in memory instead of scattered across the heap —
 * with a thousand series round-robin, the states no longer fit in the
 * caches, and fewer, adjacent cache lines per point is what keeps scoring
 * fast.
 *
 * @module
 */

/** Returns a zeroed `Float64Array` of `length` values. */
export type Float64Alloc = (length: number) => Float64Array;

/** Allocates each array on its own. */
export function separateFloat64(length: number): Float64Array {
  return new Float64Array(length);
}

/**
 * An allocator handing out consecutive views of one zeroed buffer of
 * `capacity` values, in the order they are requested.
 *
 * @throws {RangeError} when more than `capacity` values are requested.
 */
export function createArena(capacity: number): Float64Alloc {
  const buffer = new Float64Array(capacity);
  let used = 0;
  return (length: number): Float64Array => {
    if (used + length > capacity) {
      throw new RangeError(
        `Cannot allocate ${length} values: arena of ${capacity} has ${capacity - used} left`,
      );
    }
    const view = buffer.subarray(used, used + length);
    used += length;
    return view;
  };
}
