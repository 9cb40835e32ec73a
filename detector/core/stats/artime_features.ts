/**
 * ARTime's input side: the levelling of each downsampled value (normalised,
 * quantised, snapped to the running median level) and the feature vector of
 * the current window (the levelled values and the Haar transform of their
 * min–max-normalised copy, on the 16-bit grid of the category weights).
 *
 * @module
 */

import type { ArtimeConfig, ArtimeState } from "./artime_state.ts";
import { Q } from "./artime_network.ts";

/**
 * Orthonormal Haar transform, full depth, of `x[0..n)` (`n` a power of 2)
 * into `out[0..n)`: [approx, coarse … fine details]. `tmp` is scratch of
 * length ≥ n.
 */
export function haar(x: Float64Array, out: Float64Array, tmp: Float64Array, n = x.length): void {
  for (let k = 0; k < n; k++) tmp[k] = x[k]!;
  let len = n;
  while (len > 1) {
    const h = len >> 1;
    for (let k = 0; k < h; k++) {
      const a = tmp[2 * k]!;
      const b = tmp[2 * k + 1]!;
      out[h + k] = (b - a) / Math.SQRT2;
      tmp[k] = (a + b) / Math.SQRT2;
    }
    len = h;
  }
  out[0] = tmp[0]!;
}

function minMaxNormalise(v: Float64Array, n: number): void {
  let mn = Infinity;
  for (let k = 0; k < n; k++) if (v[k]! < mn) mn = v[k]!;
  let mx = -Infinity;
  for (let k = 0; k < n; k++) {
    v[k] = v[k]! - mn;
    if (v[k]! > mx) mx = v[k]!;
  }
  if (mx !== 0) { for (let k = 0; k < n; k++) v[k] = v[k]! / mx; }
}

// Scratch for features() (single-threaded, never re-entered; no state kept).
const scratchA = new Float64Array(16);
const scratchB = new Float64Array(16);
const scratchC = new Float64Array(16);

/** Feature vector (quantised to the 16-bit grid) of the current window, into `f`. */
export function features(s: ArtimeState, c: ArtimeConfig, f: Uint16Array): Uint16Array {
  const w = c.artWindow;
  if (s.dsi < w) return f.fill(0); // the reference feeds zeros until a window is full
  const dw = scratchA;
  for (let k = 0; k < w; k++) dw[k] = s.fwin[k]!;
  minMaxNormalise(dw, w);
  const fw = scratchB;
  haar(dw, fw, scratchC, w);
  minMaxNormalise(fw, w);
  for (let k = 0; k < w; k++) {
    f[k] = Math.round(fw[k]! * Q);
    f[w + k] = Math.round(s.fwin[k]! * Q);
  }
  return f;
}

/** Normalises, quantises and levels one downsampled value, then shifts it into the window. */
export function level(s: ArtimeState, raw: number, c: ArtimeConfig): void {
  let d = raw - s.dmin;
  if (s.dmax - s.dmin !== 0) d = d / (s.dmax - s.dmin);
  const lv = Math.max(0, Math.min(c.artLevels, Math.round(d * c.artLevels)));
  d = lv / c.artLevels;
  const mb = s.medbin;
  mb[lv] = mb[lv]! + 1;
  const medpos = Math.floor(s.dsi / 2);
  if (s.dsi === 1) s.medlevel = lv;
  if (s.medlevel > lv) s.belowmed++;
  else if (s.medlevel < lv) s.abovemed++;
  // The reference's approximate running median over the level histogram.
  if (medpos < s.abovemed) {
    s.belowmed += mb[s.medlevel]!;
    s.medlevel++;
    while (mb[s.medlevel] === 0) s.medlevel++;
    s.abovemed -= mb[s.medlevel]!;
  } else if (medpos < s.belowmed) {
    s.abovemed += mb[s.medlevel]!;
    s.medlevel--;
    while (mb[s.medlevel] === 0) s.medlevel--;
    s.belowmed -= mb[s.medlevel]!;
  }
  const med = s.medlevel / c.artLevels;
  if (Math.abs(d - med) < c.artChomp) d = med;
  const fwin = s.fwin;
  for (let k = 1; k < c.artWindow; k++) fwin[k - 1] = fwin[k]!;
  fwin[c.artWindow - 1] = d;
}
