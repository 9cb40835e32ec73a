import assert from "node:assert/strict";
import { createSortedWindow, pushValue, quantile, rebuildSorted } from "./sorted_window.ts";
import { prng } from "../../tools/testing/series.ts";

Deno.test("the sorted window holds the last values in order and gives exact quantiles", () => {
  const rand = prng(4);
  const w = createSortedWindow(25);
  const all: number[] = [];
  for (let i = 0; i < 200; i++) {
    const v = Math.round(rand() * 40) - 20; // with ties
    all.push(v);
    pushValue(w, v);
    const held = all.slice(-25).sort((a, b) => a - b);
    assert.deepEqual([...w.sorted.subarray(0, w.count)], held, `after ${i + 1} values`);
    const pos = 0.25 * (held.length - 1);
    const lo = held[Math.floor(pos)]!;
    const hi = held[Math.min(Math.floor(pos) + 1, held.length - 1)]!;
    assert.equal(quantile(w, 0.25), lo + (hi - lo) * (pos - Math.floor(pos)));
  }
  assert.equal(w.count, 25);
});

Deno.test("rebuildSorted restores the sorted copy from the ring", () => {
  const w = createSortedWindow(10);
  for (const v of [5, 3, 9, 1, 7, 3, 8, 2, 6, 4, 0, 11, -1]) pushValue(w, v);
  const copy = { ring: w.ring.slice(), sorted: new Float64Array(10), head: w.head, count: w.count };
  rebuildSorted(copy);
  assert.deepEqual(copy.sorted, w.sorted);
  const partial = createSortedWindow(10);
  for (const v of [4, 2, 3]) pushValue(partial, v);
  const p2 = { ...partial, sorted: new Float64Array(10) };
  rebuildSorted(p2);
  assert.deepEqual([...p2.sorted], [2, 3, 4, 0, 0, 0, 0, 0, 0, 0]);
});

Deno.test("an empty window has no quantile and a bad capacity is refused", () => {
  assert.ok(Number.isNaN(quantile(createSortedWindow(3), 0.5)));
  assert.throws(() => createSortedWindow(0), RangeError);
  assert.throws(() => createSortedWindow(2.5), RangeError);
});
