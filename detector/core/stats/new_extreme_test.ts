import assert from "node:assert/strict";
import { DEFAULT_ENGINE_CONFIG } from "./config.ts";
import { createSeriesState, type SeriesState } from "./series_state.ts";
import { extremeTolerance, isNewExtreme, learnRange, recentRange } from "./new_extreme.ts";

const C = DEFAULT_ENGINE_CONFIG;

function range(s: SeriesState) {
  return recentRange(s, { lo: NaN, hi: NaN, span: NaN });
}

function learn(s: SeriesState, x: number): boolean {
  const r = range(s);
  const tol = extremeTolerance(r, 0, C);
  const extreme = isNewExtreme(s, x, r, tol);
  learnRange(s, x, extreme, r, tol, C);
  return extreme;
}

Deno.test("recentRange() covers the completed blocks and the block being filled", () => {
  const s = createSeriesState();
  assert.deepEqual(range(s), { lo: Infinity, hi: -Infinity, span: 0 });
  for (let i = 0; i < 120; i++) learn(s, i % 2 === 0 ? 10 : 20);
  assert.equal(s.rangeCount, 2);
  learn(s, 15);
  assert.deepEqual(range(s), { lo: 10, hi: 20, span: 10 });
});

Deno.test("recentRange() forgets blocks older than rangeBlocks × rangeBlockSize points", () => {
  const s = createSeriesState();
  learn(s, 1000);
  for (let i = 1; i < C.rangeBlocks * C.rangeBlockSize; i++) learn(s, 10 + (i % 3));
  assert.equal(range(s).hi, 1000);
  learn(s, 11); // the ring wraps: the block holding 1000 is overwritten
  for (let i = 0; i < C.rangeBlockSize - 1; i++) learn(s, 11);
  assert.deepEqual(range(s), { lo: 10, hi: 12, span: 2 });
});

Deno.test("isNewExtreme(): beyond the range by more than rangeTolerance of it", () => {
  const s = createSeriesState();
  assert.equal(isNewExtreme(s, 1e9, range(s), 0), false, "no completed block yet");
  for (let i = 0; i < 100; i++) learn(s, i % 2 === 0 ? 10 : 20);
  const r = range(s);
  const tol = extremeTolerance(r, 0, C);
  assert.equal(tol, 1.5);
  assert.equal(isNewExtreme(s, 21.5, r, tol), false);
  assert.equal(isNewExtreme(s, 21.6, r, tol), true);
  assert.equal(isNewExtreme(s, 8.4, r, tol), true);
  assert.equal(extremeTolerance(r, 1, C), 3, "at least 3 × the floor");
});

Deno.test("learnRange(): a new extreme widens the range by at most one tolerance", () => {
  const s = createSeriesState();
  for (let i = 0; i < 100; i++) learn(s, i % 2 === 0 ? 10 : 20);
  assert.equal(learn(s, 100), true);
  assert.equal(range(s).hi, 21.5, "a lone spike moves the top by one tolerance");
  let steps = 1;
  while (learn(s, 100)) steps++;
  assert.ok(steps > 2 && steps < 20, `a lasting shift is caught up in ${steps} points`);
});
