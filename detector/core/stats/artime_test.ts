import assert from "node:assert/strict";
import {
  artimeReady,
  createArtimeState,
  DEFAULT_ARTIME_CONFIG,
  rebuildWeightSums,
  updateArtime,
} from "./artime.ts";
import { prng } from "../../tools/testing/series.ts";

const C = DEFAULT_ARTIME_CONFIG;

/** A triangle wave of period 48 between 50 and 74. */
function triangle(i: number): number {
  const p = i % 48;
  return 50 + (p < 24 ? p : 48 - p);
}

Deno.test("updateArtime() learns during its initialisation, then reports novel shapes only", () => {
  const s = createArtimeState();
  const init = C.artTrendWindow * C.artDownsample;
  let early = 0;
  for (let i = 0; i < init; i++) early += updateArtime(s, triangle(i), C);
  assert.equal(early, 0, "nothing is reported during initialisation");
  assert.ok(artimeReady(s));
  assert.equal(s.initRaw.length, 0, "the initialisation buffer is released");
  let repeated = 0;
  for (let i = init; i < 3000; i++) repeated += updateArtime(s, triangle(i), C) > 0 ? 1 : 0;
  assert.equal(repeated, 0, "a learned shape is not novel");
  const hits: number[] = [];
  for (let i = 3000; i < 3200; i++) {
    const v = i < 3096 ? (i % 48 < 12 ? 74 : 50) : triangle(i); // square bursts, same range
    if (updateArtime(s, v, C) > 0) hits.push(i);
  }
  assert.ok(hits.length >= 1 && hits[0]! < 3096, `novel shape reported: ${hits}`);
});

Deno.test("updateArtime() keeps its categories bounded", () => {
  const s = createArtimeState();
  const rand = prng(9);
  for (let i = 0; i < 30_000; i++) updateArtime(s, rand() * 100 + (i % 500 < 20 ? 200 : 0), C);
  assert.ok(s.nCats <= C.artMaxCategories);
  assert.equal(s.cats.length, C.artMaxCategories * 4 * C.artWindow);
});

Deno.test("rebuildWeightSums() recomputes the category norms from the weights", () => {
  const s = createArtimeState();
  const rand = prng(4);
  for (let i = 0; i < 3000; i++) updateArtime(s, rand() * 100, C);
  const want = s.wsum.slice();
  s.wsum.fill(0);
  rebuildWeightSums(s);
  assert.deepEqual(s.wsum, want);
  assert.ok(s.nCats > 1 && want[1]! > 0);
});
