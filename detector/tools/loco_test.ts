import assert from "node:assert/strict";
import {
  candidates,
  type CandidateScores,
  candidateScores,
  choose,
  type FileFigures,
  GRID,
  isShipped,
  leaveOneCategoryOut,
  normalised,
  parseLocoArgs,
  pooledLoco,
  type Profile,
  PROFILES,
} from "./loco.ts";

const WEIGHTS = {
  standard: { tpWeight: 1, fnWeight: 1 },
  reward_low_FP_rate: { tpWeight: 1, fnWeight: 1 },
  reward_low_FN_rate: { tpWeight: 1, fnWeight: 2 },
};

/** A fabricated result: `raw` per category (one file each, 2 windows each). */
function fake(raw: Record<string, number>): CandidateScores {
  const files = {} as Record<Profile, FileFigures[]>;
  for (const p of PROFILES) {
    files[p] = Object.entries(raw).map(([category, r]) => ({
      file: `${category}/f.csv`,
      category,
      raw: r,
      windows: category === "none" ? 0 : 2,
      scored: category === "none" ? 0 : 2,
      detected: 1,
      falsePositives: 0,
    }));
  }
  return { weights: WEIGHTS, files };
}

Deno.test("candidates() spans the declared grid once, and the shipped configuration is in it", () => {
  const cs = candidates();
  assert.equal(
    cs.length,
    GRID.alarmProbability.length * GRID.artimeThreshold.length * GRID.rangeTolerance.length,
  );
  assert.equal(new Set(cs.map((c) => c.name)).size, cs.length);
  assert.equal(cs.filter((c) => isShipped(c)).length, 1);
  assert.ok(cs.some((c) => c.name === "p1e-6_a0.6_t0.15"));
});

Deno.test("normalised() is NAB's normalisation over the kept files", () => {
  const s = fake({ a: 2, b: -2, none: -0.5 });
  assert.equal(normalised(s, "standard", (c) => c === "a"), 100); // perfect
  assert.equal(normalised(s, "standard", (c) => c === "b"), 0); // null detector
  // a + b + the no-anomaly file's false positives: (−0.5 + 4) / 8
  assert.equal(normalised(s, "standard", () => true), 100 * 3.5 / 8);
  assert.ok(Number.isNaN(normalised(s, "standard", (c) => c === "none")), "no windows: no score");
});

Deno.test("leaveOneCategoryOut() never lets the hidden category choose", () => {
  // On all files candidate 0 wins; a alone would also pick 0, but with a
  // hidden, b and c pick 1, and a is scored with 1.
  const all = [fake({ a: 2, b: -2, c: 2 }), fake({ a: -2, b: 2, c: 1 })];
  assert.equal(choose(all, () => true), 0);
  const rows = leaveOneCategoryOut(all);
  const by = Object.fromEntries(rows.map((r) => [r.category, r]));
  assert.equal(by.a!.chosen, 1, "a hidden: chosen on b and c");
  assert.equal(by.a!.scores.standard, 0, "…and scored on a with candidate 1");
  assert.equal(by.b!.chosen, 0);
  assert.equal(by.c!.chosen, 0, "a tie goes to the first candidate");
  assert.equal(by.c!.scores.standard, 100);
  const pooled = pooledLoco(all, rows);
  assert.equal(pooled.standard, 100 * (-2 - 2 + 2 + 6) / 12);
});

Deno.test("choose() breaks ties by grid order", () => {
  const all = [fake({ a: 1 }), fake({ a: 1 })];
  assert.equal(choose(all, () => true), 0);
});

Deno.test("candidateScores() reads the scorer's per-file JSON", () => {
  const perFile = [{
    file: "catA/x.csv",
    score: 0.5,
    windows: 2,
    windows_scored: 1,
    windows_detected: 1,
    fp_detections: 3,
  }];
  const json = {
    profiles: WEIGHTS,
    results: [{
      detector: "vigil",
      profiles: Object.fromEntries(PROFILES.map((p) => [p, {
        normalized: 1,
        threshold: 0.5,
        windows: 2,
        windows_detected: 1,
        fp_detections: 3,
        per_file: perFile,
      }])),
    }],
  };
  const s = candidateScores(json);
  assert.deepEqual(s.files.standard[0], {
    file: "catA/x.csv",
    category: "catA",
    raw: 0.5,
    windows: 2,
    scored: 1,
    detected: 1,
    falsePositives: 3,
  });
  assert.throws(() => candidateScores({ profiles: {}, results: [] }));
});

Deno.test("parseLocoArgs() needs the data folder and defaults the rest", () => {
  assert.deepEqual(parseLocoArgs(["../shared/data/nab/"]), {
    input: "../shared/data/nab",
    out: "test-output/loco",
    scorer: "../shared/data/nab/../../tools/nab_score.py",
  });
  assert.deepEqual(parseLocoArgs(["d", "--out=o", "--scorer", "s.py"]), {
    input: "d",
    out: "o",
    scorer: "s.py",
  });
  assert.throws(() => parseLocoArgs([]), /need the NAB data folder/);
  assert.throws(() => parseLocoArgs(["d", "--fast"]), /unknown option/);
});
