import assert from "node:assert/strict";
import { DEFAULT_ENGINE_CONFIG } from "./config.ts";
import { serializeState } from "./checkpoint.ts";
import { assertCompatible, createSeriesState, stateBytes } from "./series_state.ts";
import { dailySeries, feed, T0 } from "../../tools/testing/series.ts";
import { update } from "./engine.ts";

const C = DEFAULT_ENGINE_CONFIG;

Deno.test("createSeriesState() makes an empty state of the configuration's dimensions", () => {
  const s = createSeriesState();
  assert.equal(s.n, 0);
  assert.equal(s.window.ring.length, C.windowSize);
  assert.equal(s.seasonMean.length, C.seasonBuckets);
  assert.equal(s.rangeMin.length, C.rangeBlocks);
  assert.equal(s.likelihood.blockSum.length, C.blocks);
  assert.equal(s.artime.cats.length, 0, "ARTime's weights come after its initialisation");
  assert.equal(s.sinceAlarm, C.cooldownPoints, "no alarm is suppressed at the start");
  assert.throws(() => createSeriesState({ ...C, windowSize: 3 }), RangeError);
});

Deno.test("assertCompatible() refuses a state made with other dimensions", () => {
  const s = createSeriesState({ ...C, windowSize: 100 });
  assert.throws(() => assertCompatible(s, C), /different config/);
  assert.throws(() => update(s, T0, 1), RangeError);
  assert.doesNotThrow(() => assertCompatible(s, { ...C, windowSize: 100 }));
  // Parameters that are not dimensions may differ.
  assert.doesNotThrow(() => assertCompatible(createSeriesState(), { ...C, alarmScore: 0.6 }));
  const dimensions: Partial<typeof C>[] = [
    { seasonBuckets: 24 },
    { rangeBlocks: 20 },
    { averagingWindow: 5 },
    { blocks: 20 },
    { artDownsample: 5 },
    { artWindow: 4 },
    { artTrendWindow: 52 },
    { artLevels: 40 },
    { artMaxCategories: 64 },
  ];
  for (const d of dimensions) {
    const t = createSeriesState({ ...C, ...d });
    assert.throws(() => assertCompatible(t, C), /different config/, JSON.stringify(d));
    // Also once ARTime's weights exist.
    for (let i = 0; i < 700; i++) update(t, T0 + i * 300_000, i % 17, { ...C, ...d });
    assert.throws(() => assertCompatible(t, C), /different config/, JSON.stringify(d));
  }
});

Deno.test("stateBytes() counts every typed array: the documented sizes", () => {
  const f64 = 8 * (2 * C.windowSize + 3 * C.seasonBuckets + 2 * C.rangeBlocks +
    C.averagingWindow + 2 * C.blocks + 8 + C.artDownsample + C.artTrendWindow +
    (C.artLevels + 1) + C.artWindow + 2 * C.artMaxCategories +
    (Math.floor(C.artTrendWindow / 2) + 1) + (C.artTrendWindow + 1));
  const fresh = createSeriesState();
  assert.equal(stateBytes(fresh), f64);
  assert.equal(stateBytes(fresh), 12_088, "docs/statistics.md quotes this figure");
  const { ts, values } = dailySeries({ points: 700 });
  feed(fresh, ts, values);
  // After ARTime's initialisation: its weights in, its initialisation buffer out.
  const ready = f64 - 8 * C.artTrendWindow + 2 * C.artMaxCategories * 4 * C.artWindow;
  assert.equal(stateBytes(fresh), ready);
  assert.equal(stateBytes(fresh), 19_448, "docs/statistics.md quotes this figure");
});

Deno.test("state size is bounded: at most 32 KB in memory and serialised, whatever the length", () => {
  const sizes: number[] = [];
  const memory: number[] = [];
  const s = createSeriesState();
  const { ts, values } = dailySeries({ points: 100_000, seed: 61, noise: 3 });
  // Bursts of new shapes so that ARTime fills its categories.
  for (let i = 700; i < values.length; i += 97) values[i] = values[i]! + (i % 7) * 5;
  let done = 0;
  for (const n of [1000, 10_000, 100_000]) {
    feed(s, ts.slice(done, n), values.slice(done, n));
    done = n;
    sizes.push(serializeState(s).length);
    memory.push(stateBytes(s));
  }
  assert.equal(s.artime.nCats, C.artMaxCategories, "ARTime's categories are full");
  for (const size of sizes) assert.ok(size <= 32 * 1024, `checkpoint ${size} bytes`);
  assert.equal(new Set(memory).size, 1, `typed arrays ${memory}`);
  assert.ok(memory[0]! <= 32 * 1024, `in-memory arrays ${memory[0]} bytes`);
  const fresh = createSeriesState();
  assert.ok(stateBytes(fresh) <= 32 * 1024, "also during ARTime's initialisation");
  assert.ok(serializeState(fresh).length <= 32 * 1024);
});

Deno.test("assertCompatible() remembers a frozen configuration it accepted, and only that", () => {
  const s = createSeriesState();
  assertCompatible(s, C);
  assert.equal(s.checkedWith, C, "the shipped configuration is frozen: remembered");
  const copy = { ...C };
  assertCompatible(s, copy);
  assert.equal(s.checkedWith, null, "a configuration that can still change is checked every time");
  const other = Object.freeze({ ...C, windowSize: 100 });
  assert.throws(() => assertCompatible(s, other), /different config/);
  assert.equal(s.checkedWith, null);
});

Deno.test("allocateSeriesState() puts a state's float arrays in one buffer, the per-point ones first", () => {
  const s = createSeriesState();
  const a = s.artime;
  const l = s.likelihood;
  const inArena = [
    s.recent,
    l.recent,
    l.blockSum,
    l.blockSumSq,
    a.dsRing,
    a.medbin,
    a.fwin,
    a.wsum,
    a.used,
    a.simWindow,
    a.simDiff,
    s.seasonMean,
    s.seasonDev,
    s.seasonCount,
    s.rangeMin,
    s.rangeMax,
    s.window.ring,
    s.window.sorted,
  ];
  let offset = 0;
  for (const [k, x] of inArena.entries()) {
    assert.equal(x.buffer, s.recent.buffer, `array ${k} shares the buffer`);
    assert.equal(x.byteOffset, offset, `array ${k} follows the previous one`);
    offset += x.byteLength;
  }
  assert.equal(s.recent.buffer.byteLength, offset, "nothing else in the buffer");
  assert.notEqual(
    a.initRaw.buffer,
    s.recent.buffer,
    "ARTime's initialisation buffer is released later",
  );
  assert.equal(stateBytes(s), offset + a.initRaw.byteLength);
  assert.equal(a.simWindow.every((v) => v === 1), true, "ARTime's similarity window starts at 1");
});
