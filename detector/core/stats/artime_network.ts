/**
 * ARTime's network: dual-vigilance fuzzy ART (Carpenter, Grossberg & Rosen
 * 1991; Brito da Silva, Elnabarawy & Wunsch 2019) as compacted in the
 * reference `ARTimeNAB.jl`, with categories stored as hyperboxes on a 16-bit
 * grid, and the reference's estimate of the initial vigilance.
 *
 * @module
 */

import type { ArtimeConfig } from "./artime_state.ts";

/** Quantisation grid of feature values (and so of category weights). */
export const Q = 65535;

/** Similarity and energy similarity of the best category, and what training did. */
export interface TrainResult {
  sim: number;
  energy: number;
  /** A new cluster was needed (the reference's label −1). */
  mismatch: boolean;
}

/** A fuzzy ART network: the live one in the state, or a scratch one for vigilance estimation. */
export interface Net {
  cats: Uint16Array;
  wsum: Float64Array;
  nCats: number;
  used: Float64Array;
  tick: number;
}

/**
 * One step of dual-vigilance fuzzy ART (the reference's `train!` for one
 * sample). A category is stored as its hyperbox: per feature the lowest and
 * highest value it has learned (the complement-coded weights w and 1 − w
 * of the reference are `lo` and `Q − hi`), so the fuzzy AND reduces to the
 * L1 distance from the sample to the box: |x ∧ w| = |w| − distance.
 * Exported for the tests, which check it against the reference's formula.
 */
export function train(
  net: Net,
  f: Uint16Array,
  rhoLb: number,
  rhoUb: number,
  learning: boolean,
  maxCats: number,
): TrainResult {
  const d = f.length;
  const dc = 2 * d;
  const cats = net.cats;
  if (net.nCats === 0) {
    // The reference starts with one all-ones category (lo = Q, hi = 0: an
    // empty box) and skips the first sample.
    cats.fill(Q, 0, d);
    cats.fill(0, d, dc);
    net.wsum[0] = dc * Q;
    net.nCats = 1;
    net.used[0] = 0;
    return { sim: 0, energy: 0, mismatch: false };
  }
  const ei = d - 1; // the latest level value and its complement carry the "energy"
  const w16 = d === 16;
  const x0 = w16 ? f[0]! : 0, x1 = w16 ? f[1]! : 0, x2 = w16 ? f[2]! : 0, x3 = w16 ? f[3]! : 0;
  const x4 = w16 ? f[4]! : 0, x5 = w16 ? f[5]! : 0, x6 = w16 ? f[6]! : 0, x7 = w16 ? f[7]! : 0;
  const x8 = w16 ? f[8]! : 0, x9 = w16 ? f[9]! : 0, x10 = w16 ? f[10]! : 0;
  const x11 = w16 ? f[11]! : 0, x12 = w16 ? f[12]! : 0, x13 = w16 ? f[13]! : 0;
  const x14 = w16 ? f[14]! : 0, x15 = w16 ? f[15]! : 0;
  const xe = f[ei]!;
  let best = 0;
  let bestJ = -1;
  let bestEnergy = 0;
  let resonated = false;
  const n = net.nCats;
  // Visit the most recently used category first: a high best-so-far lets the
  // energy bound below skip more of the others. Ties for the best go to the lowest
  // index, as in the reference's stable sort, whatever the visiting order.
  const used = net.used;
  const wsum = net.wsum;
  let start = 0;
  for (let j = 1; j < n; j++) if (used[j]! > used[start]!) start = j;
  // Fast commit learns every category at or above rhoUb (the reference's loop
  // in descending order learns all of them, then stops at the first below).
  for (let v = 0; v < n; v++) {
    const j = start + v < n ? start + v : start + v - n;
    const off = j * dc;
    const loE = cats[off + ei]!;
    const hiE = cats[off + d + ei]!;
    const we = loE + (Q - hiE);
    const distE = (loE > xe ? loE - xe : 0) + (xe > hiE ? xe - hiE : 0);
    const es = we === 0 || distE === 0 ? 1 : (we - distE) / we;
    const es2 = es * es;
    const nw = wsum[j]!;
    const denom = nw === 0 ? 0.001 * Q : nw;
    // A category whose energy similarity alone keeps it below the best so far
    // (or below rhoUb) can be neither the best nor resonant: skipped (the
    // margin keeps rounding from skipping one that reaches the cut exactly).
    const cut = best < rhoUb ? best : rhoUb;
    if (es2 < cut * (1 - 1e-12)) continue; // not even a perfect feature match reaches it
    // L1 distance from the sample to the box, in exact integer arithmetic
    // (at most 2d × Q < 2³¹): max(lo − x, 0) + max(x − hi, 0) per feature.
    // Most samples lie inside most boxes (distance 0): that is tested first,
    // unrolled for the shipped width (d = 16) with the sample in locals.
    let dist = 0;
    let inside = false;
    if (d === 16) {
      inside = x0 >= cats[off]! && x0 <= cats[off + 16]! && x1 >= cats[off + 1]! &&
        x1 <= cats[off + 17]! && x2 >= cats[off + 2]! && x2 <= cats[off + 18]! &&
        x3 >= cats[off + 3]! && x3 <= cats[off + 19]! && x4 >= cats[off + 4]! &&
        x4 <= cats[off + 20]! && x5 >= cats[off + 5]! && x5 <= cats[off + 21]! &&
        x6 >= cats[off + 6]! && x6 <= cats[off + 22]! && x7 >= cats[off + 7]! &&
        x7 <= cats[off + 23]! && x8 >= cats[off + 8]! && x8 <= cats[off + 24]! &&
        x9 >= cats[off + 9]! && x9 <= cats[off + 25]! && x10 >= cats[off + 10]! &&
        x10 <= cats[off + 26]! && x11 >= cats[off + 11]! && x11 <= cats[off + 27]! &&
        x12 >= cats[off + 12]! && x12 <= cats[off + 28]! && x13 >= cats[off + 13]! &&
        x13 <= cats[off + 29]! && x14 >= cats[off + 14]! && x14 <= cats[off + 30]! &&
        x15 >= cats[off + 15]! && x15 <= cats[off + 31]!;
    }
    if (!inside) {
      for (let k = 0; k < d; k++) {
        const x = f[k]!;
        const below = cats[off + k]! - x;
        const above = x - cats[off + d + k]!;
        dist = (dist + (below & ~(below >> 31)) + (above & ~(above >> 31))) | 0;
      }
    }
    const fs = dist === 0 && nw !== 0 ? 1 : (nw - dist) / denom; // x / x is exactly 1
    const m = fs * fs * fs * es2;
    if (m > best || (m === best && m > 0 && j < bestJ)) {
      best = m;
      bestJ = j;
      bestEnergy = es;
    }
    if (learning && m >= rhoUb) {
      // Fast learning grows the box to the sample; |w| shrinks by exactly the
      // distance (integers), and a sample inside the box changes nothing.
      if (dist > 0) {
        for (let q = 0; q < d; q++) {
          const x = f[q]!;
          if (x < cats[off + q]!) cats[off + q] = x;
          if (x > cats[off + d + q]!) cats[off + d + q] = x;
        }
        wsum[j] = nw - dist;
      }
      used[j] = ++net.tick;
      resonated = true;
    }
  }
  if (!learning || resonated) return { sim: best, energy: bestEnergy, mismatch: !resonated };
  // No resonance: a new category, of a known cluster when the best match passes rhoLb.
  let slot = n;
  if (n >= maxCats) {
    slot = 0;
    for (let j = 1; j < n; j++) if (net.used[j]! < net.used[slot]!) slot = j;
  } else net.nCats = n + 1;
  const off = slot * dc;
  for (let q = 0; q < d; q++) {
    cats[off + q] = f[q]!;
    cats[off + d + q] = f[q]!;
  }
  net.wsum[slot] = d * Q;
  net.used[slot] = ++net.tick;
  return { sim: best, energy: bestEnergy, mismatch: !(best >= rhoLb) };
}

/** The reference's "close to cosine" similarity of two feature vectors. */
function similarity(a: Uint16Array, b: Uint16Array): number {
  let na = 0;
  let nb = 0;
  let dot = 0;
  for (let k = 0; k < a.length; k++) {
    const x = a[k]! / Q;
    const y = b[k]! / Q;
    na += x * x;
    nb += y * y;
    dot += x * y;
  }
  na = Math.sqrt(na);
  nb = Math.sqrt(nb);
  if (na === 0) return 1 - nb;
  if (nb === 0) return 1 - na;
  return dot / (na * nb);
}

/** Initial vigilance: train a scratch network on the features least similar to the rest first. */
export function initialRho(fs: Uint16Array[], c: ArtimeConfig): number {
  const n = fs.length;
  const sum = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const v = similarity(fs[i]!, fs[j]!);
      sum[i] = sum[i]! + v;
      sum[j] = sum[j]! + v;
    }
    sum[i] = sum[i]! + 1;
  }
  const order = Array.from({ length: n }, (_, k) => k).sort((a, b) => sum[a]! - sum[b]! || a - b);
  const dc = 4 * c.artWindow;
  const net: Net = {
    cats: new Uint16Array((n + 1) * dc),
    wsum: new Float64Array(n + 1),
    nCats: 0,
    used: new Float64Array(n + 1),
    tick: 0,
  };
  const sims: number[] = [];
  for (const k of order) {
    sims.push(train(net, fs[k]!, c.artInitialRho, c.artInitialRho, true, n + 1).sim);
  }
  // mean of A[trendWindow ÷ 2 : end] (1-based, as in the reference)
  const from = Math.floor(c.artTrendWindow / 2) - 1;
  let total = 0;
  for (let k = from; k < sims.length; k++) total += sims[k]!;
  return sims.length > from ? total / (sims.length - from) : c.artInitialRho;
}
