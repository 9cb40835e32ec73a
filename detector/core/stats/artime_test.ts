import assert from "node:assert/strict";
import {
  artimeReady,
  createArtimeState,
  DEFAULT_ARTIME_CONFIG,
  haar,
  type Net,
  train,
  updateArtime,
} from "./artime.ts";
import { prng } from "./_series_testing.ts";

const C = DEFAULT_ARTIME_CONFIG;
const Q = 65535;

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

/** The reference's activation (AdaptiveResonance.jl DVFA, as compacted in ARTime) on raw weights. */
function referenceActivation(x: number[], w: number[]): { m: number; e: number } {
  const d = x.length;
  const xc = [...x, ...x.map((v) => 1 - v)];
  let num = 0;
  let nw = 0;
  for (let k = 0; k < 2 * d; k++) {
    num += Math.min(xc[k]!, w[k]!);
    nw += w[k]!;
  }
  const fs = num / (nw === 0 ? 0.001 : nw);
  const ei = d - 1;
  const es = (Math.min(xc[ei]!, w[ei]!) + Math.min(xc[2 * d - 1]!, w[2 * d - 1]!)) /
    (w[ei]! + w[2 * d - 1]!);
  return { m: fs ** 3 * es ** 2, e: es };
}

Deno.test("train() matches the reference's fuzzy ART activation, learning and vigilance tests", () => {
  const rand = prng(5);
  const d = 16;
  for (let trial = 0; trial < 200; trial++) {
    // Random categories as hyperboxes on the 16-bit grid.
    const nCats = 2 + Math.floor(rand() * 30);
    const net: Net = {
      cats: new Uint16Array(40 * 2 * d),
      wsum: new Float64Array(40),
      nCats: 0,
      used: new Float64Array(40),
      tick: 0,
    };
    const boxes: number[][] = [];
    const grid = () => Math.round(rand() * Q);
    train(net, new Uint16Array(d), 0.9, 0.9, true, 40); // the all-ones start category
    boxes.push([...new Array(2 * d).fill(1)]);
    for (let j = 1; j < nCats; j++) {
      const lo: number[] = [];
      const hi: number[] = [];
      for (let k = 0; k < d; k++) {
        const a = grid();
        const b = Math.min(Q, a + Math.round(rand() * rand() * Q * 0.3));
        lo.push(a);
        hi.push(b);
      }
      for (let k = 0; k < d; k++) {
        net.cats[j * 2 * d + k] = lo[k]!;
        net.cats[j * 2 * d + d + k] = hi[k]!;
      }
      net.wsum[j] = lo.reduce((a, b) => a + b, 0) + hi.reduce((a, b) => a + Q - b, 0);
      net.used[j] = j;
      boxes.push([...lo.map((v) => v / Q), ...hi.map((v) => 1 - v / Q)]);
    }
    net.nCats = nCats;
    net.tick = nCats;
    // A sample near one of the boxes, sometimes far from all.
    const f = new Uint16Array(d);
    const near = 1 + Math.floor(rand() * (nCats - 1));
    for (let k = 0; k < d; k++) {
      const lo = net.cats[near * 2 * d + k]!;
      const hi = net.cats[near * 2 * d + d + k]!;
      f[k] = rand() < 0.7 ? lo + Math.round(rand() * (hi - lo)) : grid();
    }
    const acts = boxes.map((w) => referenceActivation([...f].map((v) => v / Q), w));
    let bestJ = 0;
    for (let j = 1; j < acts.length; j++) if (acts[j]!.m > acts[bestJ]!.m) bestJ = j;
    const sorted = acts.map((a) => a.m).sort((a, b) => b - a);
    // Vigilance between two activations (not on one: rounding differs at 1e-16).
    const k = Math.min(2, sorted.length - 2);
    const rhoUb = trial % 3 === 0 ? sorted[0]! + 0.01 : (sorted[k]! + sorted[k + 1]!) / 2;
    const rhoLb = rhoUb - 0.2;
    const before = net.cats.slice();
    const r = train(net, f, rhoLb, rhoUb, true, 40);
    assert.ok(Math.abs(r.sim - acts[bestJ]!.m) < 1e-9, `trial ${trial}: best similarity`);
    assert.ok(Math.abs(r.energy - acts[bestJ]!.e) < 1e-9, `trial ${trial}: its energy`);
    const resonant = acts.map((a, j) => (a.m >= rhoUb ? j : -1)).filter((j) => j >= 0);
    assert.equal(r.mismatch, resonant.length === 0 && !(acts[bestJ]!.m >= rhoLb), `${trial}`);
    for (let j = 0; j < nCats; j++) {
      for (let k = 0; k < d; k++) {
        const lo = before[j * 2 * d + k]!;
        const hi = before[j * 2 * d + d + k]!;
        const learned = resonant.includes(j);
        assert.equal(net.cats[j * 2 * d + k], learned ? Math.min(lo, f[k]!) : lo);
        assert.equal(net.cats[j * 2 * d + d + k], learned ? Math.max(hi, f[k]!) : hi);
      }
    }
    assert.equal(
      net.nCats,
      resonant.length > 0 ? nCats : nCats + 1,
      "a new category iff none resonates",
    );
  }
});

Deno.test("train() replaces the least recently used category when full", () => {
  const d = 4;
  const net: Net = {
    cats: new Uint16Array(3 * 2 * d),
    wsum: new Float64Array(3),
    nCats: 0,
    used: new Float64Array(3),
    tick: 0,
  };
  const sample = (v: number) => new Uint16Array(d).fill(v);
  train(net, sample(0), 0.99, 0.99, true, 3); // start category
  train(net, sample(1000), 0.99, 0.99, true, 3); // new: slot 1
  train(net, sample(60_000), 0.99, 0.99, true, 3); // new: slot 2 (full)
  train(net, sample(1000), 0.99, 0.99, true, 3); // resonates with slot 1
  train(net, sample(30_000), 0.99, 0.99, true, 3); // full: replaces the start category (oldest)
  assert.equal(net.nCats, 3);
  assert.deepEqual([...net.cats.subarray(0, d)], [30_000, 30_000, 30_000, 30_000]);
  assert.deepEqual([...net.cats.subarray(2 * d, 3 * d)], [1000, 1000, 1000, 1000]);
});

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
