import assert from "node:assert/strict";
import { createArena } from "./arena.ts";
import { createArtimeState, DEFAULT_ARTIME_CONFIG } from "./artime_state.ts";

const C = DEFAULT_ARTIME_CONFIG;

Deno.test("createArtimeState() starts before its initialisation, with no weights yet", () => {
  const s = createArtimeState();
  assert.equal(s.dsi, 1, "downsampled values are counted from 1, as in the reference");
  assert.equal(s.initRaw.length, C.artTrendWindow);
  assert.equal(s.cats.length, 0);
  assert.ok(Number.isNaN(s.dmin) && Number.isNaN(s.dmax), "no normalisation range yet");
  assert.equal(s.rawMin, Infinity);
  assert.equal(s.rawMax, -Infinity);
  assert.equal(s.simWindow.length, Math.floor(C.artTrendWindow / 2) + 1);
  assert.ok(s.simWindow.every((v) => v === 1), "past similarities start at 1");
  assert.equal(s.simDiff.length, C.artTrendWindow + 1);
  assert.equal(s.medbin.length, C.artLevels + 1);
  assert.equal(s.used.length, C.artMaxCategories);
});

Deno.test("createArtimeState() takes its arrays from the allocator in the documented order", () => {
  const sizes = [
    C.artDownsample,
    C.artLevels + 1,
    C.artWindow,
    C.artMaxCategories,
    C.artMaxCategories,
    Math.floor(C.artTrendWindow / 2) + 1,
    C.artTrendWindow + 1,
  ];
  const alloc = createArena(sizes.reduce((a, b) => a + b, 0));
  const s = createArtimeState(C, alloc);
  const order = [s.dsRing, s.medbin, s.fwin, s.wsum, s.used, s.simWindow, s.simDiff];
  let offset = 0;
  for (const [k, x] of order.entries()) {
    assert.equal(x.byteOffset, offset, `array ${k}`);
    assert.equal(x.buffer, s.dsRing.buffer);
    offset += x.byteLength;
  }
  assert.notEqual(s.initRaw.buffer, s.dsRing.buffer, "the initialisation buffer is its own");
  assert.throws(() => alloc(1), RangeError, "nothing else was taken");
});
