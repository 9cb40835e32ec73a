import assert from "node:assert/strict";
import { restoreState, serializeState } from "./checkpoint.ts";
import { createSeriesState, update } from "./engine.ts";
import { dailySeries, feed, scoresOf } from "../../tools/testing/series.ts";
import fixture from "./testdata/checkpoint_v2.json" with { type: "json" };

async function sha256(text: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("serializeState() and restoreState() mid-series: identical scores afterwards", () => {
  const { ts, values } = dailySeries({ points: 4000, seed: 3, noise: 2 });
  values[3000] = 120; // an alarm after the restore point, and a cooldown across it
  values[3400] = NaN;
  // Cuts in the warm-up, the early phase, ARTime's initialisation (624
  // points) and after it, with categories learned.
  for (const cut of [5, 137, 301, 400, 624, 700, 1999, 2999, 3001]) {
    const straight = createSeriesState();
    const expected = scoresOf(feed(straight, ts, values));
    const first = createSeriesState();
    feed(first, ts.slice(0, cut), values.slice(0, cut));
    const text = serializeState(first);
    const restored = restoreState(text);
    assert.equal(serializeState(restored), text, `round trip is exact at ${cut}`);
    const after = scoresOf(feed(restored, ts.slice(cut), values.slice(cut)));
    assert.deepEqual(after, expected.slice(cut), `scores after restoring at point ${cut}`);
    assert.equal(serializeState(restored), serializeState(straight), `final state at ${cut}`);
  }
});

Deno.test("restoreState() restores checkpoints written before the engine was split into modules", async () => {
  // testdata/checkpoint_v2.json: checkpoints of this series written by the
  // engine at commit 01254da (format 2), one during ARTime's initialisation
  // and one after, with the hashes of what that engine scored afterwards.
  const { ts, values } = dailySeries({ points: 2400, seed: 3, noise: 2 });
  values[1900] = 120;
  values[2100] = NaN;
  for (let i = 700; i < values.length; i += 97) values[i] = values[i]! + (i % 7) * 2;
  assert.equal(fixture.cuts.length, 2);
  for (const c of fixture.cuts) {
    const s = restoreState(c.checkpoint);
    assert.equal(serializeState(s), c.checkpoint, `re-serialised unchanged (cut ${c.cut})`);
    const scores: number[] = [];
    for (let i = c.cut; i < values.length; i++) scores.push(update(s, ts[i]!, values[i]!).score);
    assert.equal(scores.filter((x) => x >= 0.5).length, c.alarms, `alarms after cut ${c.cut}`);
    assert.equal(await sha256(JSON.stringify(scores)), c.scoresSha256, `scores after ${c.cut}`);
    assert.equal(await sha256(serializeState(s)), c.finalSha256, `final state after ${c.cut}`);
  }
});

Deno.test("restoreState() rejects text that is not a valid checkpoint", () => {
  const s = createSeriesState();
  const { ts, values } = dailySeries({ points: 50 });
  feed(s, ts, values);
  const good = JSON.parse(serializeState(s)) as {
    v: number;
    dims: number[];
    s: string;
    a: string;
    c: string;
  };
  const bad: string[] = [
    "",
    "not json",
    "{}",
    JSON.stringify({ ...good, v: 99 }),
    JSON.stringify({ ...good, dims: [good.dims[0]! + 1, ...good.dims.slice(1)] }),
    JSON.stringify({ ...good, a: good.a.slice(0, 16) }),
    JSON.stringify({ ...good, s: "@@@" }),
    JSON.stringify({ ...good, c: "@@@" }),
    JSON.stringify({ ...good, dims: [...good.dims.slice(0, 11), 5] }), // categories vs weights
    JSON.stringify({ ...good, dims: [...good.dims.slice(0, 10), 7, good.dims[11]] }), // init buffer
    JSON.stringify({ ...good, dims: [...good.dims.slice(0, 5), 3, ...good.dims.slice(6)] }), // window
  ];
  for (const text of bad) {
    assert.throws(() => restoreState(text), TypeError, `rejects ${text.slice(0, 40)}`);
  }
  // A NaN smuggled into the arrays.
  const arr = Uint8Array.from(atob(good.a), (c) => c.charCodeAt(0));
  new DataView(arr.buffer).setFloat64(0, NaN, true);
  const nanText = JSON.stringify({ ...good, a: btoa(String.fromCharCode(...arr)) });
  assert.throws(() => restoreState(nanText), /non-finite/);
});

Deno.test("restoreState() rebuilds the derived fields and the one-buffer layout of a new state", () => {
  const { ts, values } = dailySeries({ points: 3000, seed: 8, noise: 2 });
  for (let i = 700; i < values.length; i += 97) values[i] = values[i]! + (i % 7) * 2;
  const s = createSeriesState();
  feed(s, ts, values);
  const r = restoreState(serializeState(s));
  assert.equal(r.rangeBlocksMin, s.rangeBlocksMin);
  assert.equal(r.rangeBlocksMax, s.rangeBlocksMax);
  assert.ok(Number.isFinite(r.rangeBlocksMin) && r.rangeBlocksMin < r.rangeBlocksMax);
  assert.deepEqual(r.artime.wsum, s.artime.wsum);
  assert.deepEqual(r.window.sorted, s.window.sorted);
  assert.equal(r.checkedWith, null);
  assert.deepEqual(Object.keys(r), Object.keys(s), "the same fields in the same order");
  assert.deepEqual(Object.keys(r.artime), Object.keys(s.artime));
  for (const x of [r.window.sorted, r.artime.wsum, r.seasonCount, r.likelihood.blockSum]) {
    assert.equal(x.buffer, r.recent.buffer);
  }
});
