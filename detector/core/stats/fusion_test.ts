import assert from "node:assert/strict";
import { DEFAULT_ENGINE_CONFIG } from "./config.ts";
import { artimeScore, type Evidence, fuse, type Fused, rawScore } from "./fusion.ts";
import { calibratedScore } from "./likelihood.ts";
import { createSeriesState } from "./series_state.ts";

const C = DEFAULT_ENGINE_CONFIG;

function evidence(e: Partial<Evidence>): Evidence {
  return {
    warm: true,
    mature: true,
    raw: 0,
    q: 0.5,
    deviationQ: 1,
    outlierQ: 1,
    prev: 7,
    artConf: 0,
    newExtreme: false,
    ...e,
  };
}

function fused(): Fused {
  return { score: NaN, reason: "normal", detail: NaN, suppressed: false };
}

Deno.test("rawScore() is 0 up to deviationFree, then 1 − exp(−(|z| − 2) / 3)", () => {
  assert.equal(rawScore(2, C), 0);
  assert.equal(rawScore(-1.5, C), 0);
  assert.equal(rawScore(5, C), 1 - Math.exp(-1));
  assert.equal(rawScore(-5, C), rawScore(5, C));
});

Deno.test("artimeScore() maps artimeThreshold to alarmScore, linearly on each side", () => {
  assert.equal(artimeScore(0.6, C), 0.5);
  assert.equal(artimeScore(1, C), 1);
  assert.equal(artimeScore(0.3, C), 0.25);
  assert.ok(Math.abs(artimeScore(0.92, C) - 0.9) < 1e-12);
});

Deno.test("fuse() takes the strongest evidence and names its detector", () => {
  const s = createSeriesState();
  const likely = fuse(s, evidence({ q: 1e-7, raw: 0.5 }), C, fused());
  assert.equal(likely.score, calibratedScore(1e-7, C.alarmProbability));
  assert.equal(likely.reason, "deviation");
  const shape = fuse(createSeriesState(), evidence({ q: 1e-7, artConf: 0.95 }), C, fused());
  assert.equal(shape.score, artimeScore(0.95, C));
  assert.equal(shape.reason, "new-shape");
  assert.equal(shape.detail, 0.95);
  const extreme = fuse(createSeriesState(), evidence({ newExtreme: true }), C, fused());
  assert.deepEqual([extreme.score, extreme.reason], [1, "new-extreme"]);
  const outlier = fuse(
    createSeriesState(),
    evidence({ mature: false, outlierQ: 1e-9 }),
    C,
    fused(),
  );
  assert.deepEqual([outlier.reason, outlier.detail], ["early-outlier", 7]);
  assert.equal(outlier.score, calibratedScore(1e-9, C.alarmProbability));
  const normal = fuse(createSeriesState(), evidence({}), C, fused());
  assert.equal(normal.reason, "normal");
  assert.ok(normal.score < 0.1);
});

Deno.test("fuse(): an early deviation is graded but capped below the alarm level", () => {
  const f = fuse(createSeriesState(), evidence({ mature: false, deviationQ: 1e-12 }), C, fused());
  assert.equal(f.score, C.suppressedScore);
  const small = fuse(
    createSeriesState(),
    evidence({ mature: false, deviationQ: 0.01 }),
    C,
    fused(),
  );
  assert.equal(small.score, calibratedScore(0.01, C.alarmProbability));
});

Deno.test("fuse(): nothing scores during the warm-up", () => {
  const f = fuse(createSeriesState(), evidence({ warm: false, newExtreme: true }), C, fused());
  assert.equal(f.score, 0);
});

Deno.test("fuse(): one alarm per incident, then capped for cooldownPoints points", () => {
  const s = createSeriesState();
  const alarm = evidence({ newExtreme: true });
  assert.equal(fuse(s, alarm, C, fused()).score, 1);
  for (let i = 1; i < C.cooldownPoints; i++) {
    const f = fuse(s, alarm, C, fused());
    assert.ok(f.suppressed && f.score === C.suppressedScore, `point ${i} after the alarm`);
  }
  const again = fuse(s, alarm, C, fused());
  assert.deepEqual([again.score, again.suppressed], [1, false], "after the cooldown");
  const quiet = fuse(s, evidence({}), C, fused());
  assert.equal(quiet.suppressed, false, "a normal point is not suppressed");
});
