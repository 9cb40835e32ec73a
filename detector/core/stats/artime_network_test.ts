import assert from "node:assert/strict";
import { DEFAULT_ARTIME_CONFIG } from "./artime_state.ts";
import { initialRho, type Net, Q, train } from "./artime_network.ts";
import { prng } from "../../tools/testing/series.ts";

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
  // 16 is the shipped feature width (an unrolled path), the others the generic one.
  for (let t = 0; t < 600; t++) {
    const d = [16, 8, 32][t % 3]!;
    const trial = Math.floor(t / 3);
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

Deno.test("train() sees a sample leave a box through any one feature, on either side", () => {
  for (const d of [16, 8]) {
    for (let k = 0; k < d; k++) {
      for (const outside of [500, 2500, 1000, 2000]) {
        const net: Net = {
          cats: new Uint16Array(3 * 2 * d),
          wsum: new Float64Array(3),
          nCats: 0,
          used: new Float64Array(3),
          tick: 0,
        };
        train(net, new Uint16Array(d), 0.5, 0.5, true, 3); // the all-ones start category
        net.cats.fill(1000, 2 * d, 3 * d); // category 1: the box [1000, 2000]
        net.cats.fill(2000, 3 * d, 4 * d);
        net.wsum[1] = d * 1000 + d * (Q - 2000);
        net.used[1] = 1;
        net.nCats = 2;
        net.tick = 1;
        const f = new Uint16Array(d).fill(1500);
        f[k] = outside;
        const box = [...new Array(d).fill(1000 / Q), ...new Array(d).fill(1 - 2000 / Q)];
        const want = referenceActivation([...f].map((v) => v / Q), box);
        const r = train(net, f, 0.999, 0.9999, false, 3);
        assert.ok(Math.abs(r.sim - want.m) < 1e-12, `d ${d}, feature ${k} at ${outside}`);
        assert.equal(r.sim === 1, outside === 1000 || outside === 2000, "on the edge is inside");
      }
    }
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

Deno.test("initialRho() is the mean similarity of the later half of a similarity-ordered pass", () => {
  const C = DEFAULT_ARTIME_CONFIG;
  const f = new Uint16Array(2 * C.artWindow).fill(30_000);
  // Identical features: the first one starts the network, the second makes a
  // category of itself, every later one matches it exactly (similarity 1).
  const same = Array.from({ length: C.artTrendWindow - C.artWindow + 1 }, () => f.slice());
  assert.equal(initialRho(same, C), 1);
  // Too few to reach the later half: the configured initial vigilance.
  assert.equal(initialRho(same.slice(0, 10), C), C.artInitialRho);
  // Distinct features lower it.
  const rand = prng(3);
  const mixed = same.map(() => Uint16Array.from(f, () => Math.round(rand() * Q)));
  const rho = initialRho(mixed, C);
  assert.ok(rho > 0 && rho < 1, `${rho}`);
});
