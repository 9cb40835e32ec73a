import assert from "node:assert/strict";
import { createArtimeState, DEFAULT_ARTIME_CONFIG } from "./artime_state.ts";
import { features, haar, level } from "./artime_features.ts";
import { Q } from "./artime_network.ts";

const C = DEFAULT_ARTIME_CONFIG;

Deno.test("haar() is the orthonormal Haar transform, coarse to fine", () => {
  const out = new Float64Array(4);
  haar(new Float64Array([1, 2, 3, 4]), out, new Float64Array(4));
  const r2 = Math.SQRT2;
  // approx = sum / 2; coarse detail = ((3+4) − (1+2)) / 2; fine details (b − a)/√2
  const want = [5, 2, 1 / r2, 1 / r2];
  out.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-12, `coefficient ${i}: ${v}`));
  const x = new Float64Array([3, -1, 4, 1, -5, 9, 2, -6]);
  const y = new Float64Array(8);
  haar(x, y, new Float64Array(8));
  const energy = (v: Float64Array) => v.reduce((a, b) => a + b * b, 0);
  assert.ok(Math.abs(energy(x) - energy(y)) < 1e-9, "orthonormal: energy kept");
});

/** A state past its initialisation with the range [0, 100]. */
function ready() {
  const s = createArtimeState();
  s.dmin = 0;
  s.dmax = 100;
  s.dsi = 1;
  return s;
}

Deno.test("level() quantises to artLevels levels, saturates outside the range, shifts the window", () => {
  const s = ready();
  level(s, 50, C);
  assert.equal(s.fwin[C.artWindow - 1], 0.5);
  assert.equal(s.medlevel, 40, "the first value is the median");
  s.dsi = 2;
  level(s, 250, C);
  assert.equal(s.fwin[C.artWindow - 1], 1, "saturates at the top");
  assert.equal(s.fwin[C.artWindow - 2], 0.5, "the window shifted");
  s.dsi = 3;
  level(s, -40, C);
  assert.equal(s.fwin[C.artWindow - 1], 0, "saturates at the bottom");
  assert.equal(s.medbin[80], 1);
  assert.equal(s.medbin[0], 1);
});

Deno.test("level() snaps a value within artChomp of the running median level to it", () => {
  const s = ready();
  for (let k = 1; k <= 5; k++) {
    s.dsi = k;
    level(s, 50, C);
  }
  s.dsi = 6;
  level(s, 55, C); // level 44 = 0.55, within 0.075 of 0.5
  assert.equal(s.fwin[C.artWindow - 1], 0.5);
  s.dsi = 7;
  level(s, 60, C); // 0.6: not within
  assert.equal(s.fwin[C.artWindow - 1], 0.6);
});

Deno.test("features(): zeros until a window is full, then the normalised Haar transform and the levels", () => {
  const s = ready();
  const f = new Uint16Array(2 * C.artWindow);
  s.dsi = C.artWindow - 1;
  assert.deepEqual([...features(s, C, f.fill(7))], new Array(2 * C.artWindow).fill(0));
  s.dsi = C.artWindow;
  s.fwin.set([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]);
  features(s, C, f);
  assert.deepEqual([...f.subarray(C.artWindow)], [...s.fwin].map((v) => Math.round(v * Q)));
  const haarPart = [...f.subarray(0, C.artWindow)];
  assert.equal(Math.min(...haarPart), 0, "min–max normalised");
  assert.equal(Math.max(...haarPart), Q);
  assert.equal(haarPart[0], Q, "the approximation coefficient of a rising ramp is the largest");
});
