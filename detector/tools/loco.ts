/**
 * Leave-one-category-out (LOCO) validation of the engine's configuration on
 * the NAB files at hand, to predict how it does on series it was not tuned
 * on:
 *
 * ```
 * deno task validate:stats ../shared/data/nab [--out test-output/loco] [--scorer <nab_score.py>]
 * ```
 *
 * 1. Every candidate of the declared grid {@link GRID} (the shipped
 *    configuration with a few parameters moved) is replayed over every file
 *    (`runBacktest`) and scored by NAB's rules at the shipped threshold 0.5
 *    (`nab_score.py --threshold 0.5 --json`, per file).
 * 2. For each category: the candidate with the best {@link objective} on the
 *    *other* categories is chosen, and its score on the hidden category is
 *    reported — a category never influences the choice it is scored with.
 * 3. The same rule applied to all files names the configuration to ship; the
 *    report says whether it is `DEFAULT_ENGINE_CONFIG`.
 * 4. The shipped configuration is also scored at NAB's optimised threshold
 *    (the scorer's sweep), to show the gap to the fixed 0.5.
 *
 * Writes `<out>/loco.md` (the tables of `docs/statistics.md`) and
 * `<out>/loco.json`, and prints the markdown. The selection logic is pure
 * and tested (`loco_test.ts`); the tests never need the NAB files.
 *
 * @module
 */
import { runBacktest } from "./backtest.ts";
import { DEFAULT_ENGINE_CONFIG, type EngineConfig } from "../core/stats/engine.ts";
import { nabScoreSchema } from "./nab_report.ts";
import { assertWritable, runTool } from "./tool_main.ts";
import { type LocoArgs, optimisedSchema, parseLocoArgs, score, USAGE } from "./loco_cli.ts";
export { type LocoArgs, parseLocoArgs } from "./loco_cli.ts";

/** NAB profiles reported, in order. */
export const PROFILES = ["standard", "reward_low_FP_rate", "reward_low_FN_rate"] as const;
/** A NAB profile name. */
export type Profile = typeof PROFILES[number];

/**
 * The declared candidate grid: every combination of these values, all other
 * parameters as shipped. The three are the ones without a published value:
 * the calibration of the engine's tail probabilities, ARTime's alarm level
 * on its confidence, and the margin of the new-extreme rule.
 */
export const GRID: Readonly<{
  alarmProbability: readonly number[];
  artimeThreshold: readonly number[];
  rangeTolerance: readonly number[];
}> = Object.freeze({
  alarmProbability: [1e-5, 3e-6, 1e-6],
  artimeThreshold: [0.5, 0.6, 0.7],
  rangeTolerance: [0.1, 0.15],
});

/** One configuration of the grid. */
export interface Candidate {
  /** Folder-safe name, e.g. `p1e-6_a0.6_t0.15` (alarm probability, ARTime threshold, range margin). */
  name: string;
  override: Pick<EngineConfig, "alarmProbability" | "artimeThreshold" | "rangeTolerance">;
}

/** Every candidate of {@link GRID}, in a fixed order (ties go to the first). */
export function candidates(): Candidate[] {
  const out: Candidate[] = [];
  for (const rangeTolerance of GRID.rangeTolerance) {
    for (const alarmProbability of GRID.alarmProbability) {
      for (const artimeThreshold of GRID.artimeThreshold) {
        out.push({
          name: `p${alarmProbability.toExponential()}_a${artimeThreshold}_t${rangeTolerance}`,
          override: { alarmProbability, artimeThreshold, rangeTolerance },
        });
      }
    }
  }
  return out;
}

/** Is `c` the shipped configuration's point of the grid? */
export function isShipped(c: Candidate, shipped: Readonly<EngineConfig> = DEFAULT_ENGINE_CONFIG) {
  return c.override.alarmProbability === shipped.alarmProbability &&
    c.override.artimeThreshold === shipped.artimeThreshold &&
    c.override.rangeTolerance === shipped.rangeTolerance;
}

/** NAB figures of one file under one profile (from the scorer's per-file output). */
export interface FileFigures {
  file: string;
  category: string;
  /** Raw NAB score of the file. */
  raw: number;
  windows: number;
  /** Windows not wholly inside the probationary period. */
  scored: number;
  detected: number;
  falsePositives: number;
}

/** Per profile, every file's figures, plus the profiles' weights. */
export interface CandidateScores {
  weights: Record<Profile, { tpWeight: number; fnWeight: number }>;
  files: Record<Profile, FileFigures[]>;
}

/**
 * NAB's normalised score over the files `keep` accepts:
 * 100 × (S − S_null) / (S_perfect − S_null), with S_perfect = tpWeight ×
 * windows and S_null = −fnWeight × scorable windows. NaN without windows.
 */
export function normalised(
  s: CandidateScores,
  profile: Profile,
  keep: (category: string) => boolean,
): number {
  let raw = 0;
  let windows = 0;
  let scored = 0;
  for (const f of s.files[profile]) {
    if (!keep(f.category)) continue;
    raw += f.raw;
    windows += f.windows;
    scored += f.scored;
  }
  const w = s.weights[profile];
  const perfect = w.tpWeight * windows;
  const nul = -w.fnWeight * scored;
  return perfect > nul ? (100 * (raw - nul)) / (perfect - nul) : NaN;
}

/** Selection objective: the mean of the standard and low-FP normalised scores. */
export function objective(s: CandidateScores, keep: (category: string) => boolean): number {
  return (normalised(s, "standard", keep) + normalised(s, "reward_low_FP_rate", keep)) / 2;
}

/** The index of the candidate with the best objective over `keep` (first on ties). */
export function choose(
  all: readonly CandidateScores[],
  keep: (category: string) => boolean,
): number {
  let best = -1;
  let bestValue = -Infinity;
  all.forEach((s, i) => {
    const v = objective(s, keep);
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  });
  if (best < 0) throw new RangeError("Cannot choose a candidate: no finite objective");
  return best;
}

/** One row of the LOCO table. */
export interface LocoRow {
  category: string;
  files: number;
  /** Candidate chosen with the category hidden. */
  chosen: number;
  /** Normalised score of the hidden category per profile (NaN without windows). */
  scores: Record<Profile, number>;
  windows: number;
  detected: number;
  falsePositives: number;
}

/** Leave-one-category-out: for each category, choose on the others, score on it. */
export function leaveOneCategoryOut(all: readonly CandidateScores[]): LocoRow[] {
  const first = all[0];
  if (!first) throw new RangeError("Cannot validate: no candidate");
  const categories = [...new Set(first.files.standard.map((f) => f.category))].sort();
  return categories.map((hidden) => {
    const chosen = choose(all, (c) => c !== hidden);
    const s = all[chosen]!;
    const mine = s.files.standard.filter((f) => f.category === hidden);
    const scores = Object.fromEntries(
      PROFILES.map((p) => [p, normalised(s, p, (c) => c === hidden)]),
    ) as Record<Profile, number>;
    return {
      category: hidden,
      files: mine.length,
      chosen,
      scores,
      windows: mine.reduce((a, f) => a + f.windows, 0),
      detected: mine.reduce((a, f) => a + f.detected, 0),
      falsePositives: mine.reduce((a, f) => a + f.falsePositives, 0),
    };
  });
}

/**
 * The LOCO estimate over all files: each category scored with the candidate
 * chosen without it, pooled as NAB pools files (raw scores summed, then
 * normalised over all windows).
 */
export function pooledLoco(all: readonly CandidateScores[], rows: readonly LocoRow[]) {
  const out = {} as Record<Profile, number>;
  for (const p of PROFILES) {
    let raw = 0;
    let windows = 0;
    let scored = 0;
    for (const r of rows) {
      for (const f of all[r.chosen]!.files[p]) {
        if (f.category !== r.category) continue;
        raw += f.raw;
        windows += f.windows;
        scored += f.scored;
      }
    }
    const w = all[0]!.weights[p];
    const perfect = w.tpWeight * windows;
    const nul = -w.fnWeight * scored;
    out[p] = perfect > nul ? (100 * (raw - nul)) / (perfect - nul) : NaN;
  }
  return out;
}

/** Reads the scorer's JSON output into {@link CandidateScores}. */
export function candidateScores(json: unknown): CandidateScores {
  const r = nabScoreSchema.parse(json);
  const result = r.results[0]!;
  const files = {} as Record<Profile, FileFigures[]>;
  const weights = {} as Record<Profile, { tpWeight: number; fnWeight: number }>;
  for (const p of PROFILES) {
    const prof = result.profiles[p];
    const w = r.profiles[p];
    if (!prof || !w) throw new TypeError(`Cannot read scores: profile ${p} missing`);
    weights[p] = w;
    files[p] = prof.per_file.map((f) => ({
      file: f.file,
      category: f.file.split("/")[0] ?? f.file,
      raw: f.score,
      windows: f.windows,
      scored: f.windows_scored,
      detected: f.windows_detected,
      falsePositives: f.fp_detections,
    }));
  }
  return { weights, files };
}

function num(x: number, digits = 1): string {
  return Number.isNaN(x) ? "–" : x.toFixed(digits);
}

/** Markdown tables: per candidate, LOCO, and the shipped configuration's choice. */
export function formatReport(
  cands: readonly Candidate[],
  all: readonly CandidateScores[],
  extra: {
    optimised?: Record<Profile, { score: number; threshold: number }> | undefined;
    shipped: number;
  },
): string {
  const categories = [...new Set(all[0]!.files.standard.map((f) => f.category))].sort();
  const lines: string[] = [];
  lines.push("#### Every candidate at threshold 0.5 (standard / low-FP)\n");
  lines.push(
    `| candidate | ${categories.join(" | ")} | all | objective |`,
    `|---|${categories.map(() => "---").join("|")}|---|---|`,
  );
  all.forEach((s, i) => {
    const cells = categories.map((c) => {
      const std = normalised(s, "standard", (x) => x === c);
      if (Number.isNaN(std)) {
        // No windows: what counts is the false positives.
        const fp = s.files.standard.filter((f) => f.category === c).reduce(
          (a, f) => a + f.falsePositives,
          0,
        );
        return `${fp} FP`;
      }
      return `${num(std)} / ${num(normalised(s, "reward_low_FP_rate", (x) => x === c))}`;
    });
    const name = i === extra.shipped ? `**${cands[i]!.name}** (shipped)` : cands[i]!.name;
    lines.push(
      `| ${name} | ${cells.join(" | ")} | ${num(normalised(s, "standard", () => true))} / ${
        num(normalised(s, "reward_low_FP_rate", () => true))
      } | ${num(objective(s, () => true), 2)} |`,
    );
  });
  lines.push(
    "\n#### Leave one category out (chosen on the other categories, scored on the hidden one)\n",
  );
  lines.push(
    "| hidden category | files | chosen candidate | standard | low-FP | low-FN | windows detected | FP detections |",
    "|---|---|---|---|---|---|---|---|",
  );
  const rows = leaveOneCategoryOut(all);
  for (const r of rows) {
    lines.push(
      `| ${r.category} | ${r.files} | ${cands[r.chosen]!.name} | ${num(r.scores.standard)} | ${
        num(r.scores.reward_low_FP_rate)
      } | ${num(r.scores.reward_low_FN_rate)} | ${r.detected}/${r.windows} | ${r.falsePositives} |`,
    );
  }
  const pooled = pooledLoco(all, rows);
  lines.push(
    `| **all, pooled** | ${rows.reduce((a, r) => a + r.files, 0)} | (per category) | **${
      num(pooled.standard)
    }** | **${num(pooled.reward_low_FP_rate)}** | **${num(pooled.reward_low_FN_rate)}** | ${
      rows.reduce((a, r) => a + r.detected, 0)
    }/${rows.reduce((a, r) => a + r.windows, 0)} | ${
      rows.reduce((a, r) => a + r.falsePositives, 0)
    } |`,
  );
  const chosenAll = choose(all, () => true);
  lines.push(
    `\nChosen on all files: **${cands[chosenAll]!.name}**; shipped (\`DEFAULT_ENGINE_CONFIG\`): **${
      cands[extra.shipped]?.name ?? "not in the grid"
    }**${chosenAll === extra.shipped ? " (the same)" : " (DIFFERENT)"}.`,
  );
  if (extra.optimised) {
    const s = all[extra.shipped]!;
    lines.push("\n#### Shipped configuration: threshold 0.5 vs NAB's optimised threshold\n");
    lines.push("| profile | at 0.5 | at NAB's optimised threshold | gap |", "|---|---|---|---|");
    for (const p of PROFILES) {
      const fixed = normalised(s, p, () => true);
      const o = extra.optimised[p];
      lines.push(
        `| ${p} | ${num(fixed, 2)} | ${
          o ? `${num(o.score, 2)} (threshold ${o.threshold.toFixed(4)})` : "–"
        } | ${o ? num(o.score - fixed, 2) : "–"} |`,
      );
    }
  }
  return lines.join("\n") + "\n";
}

async function main(): Promise<number> {
  const enc = new TextEncoder();
  const say = (t: string) => Deno.stderr.write(enc.encode(t + "\n"));
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    await Deno.stdout.write(enc.encode(USAGE + "\n"));
    return 0;
  }
  let args: LocoArgs;
  try {
    args = parseLocoArgs(Deno.args);
  } catch (e) {
    await say((e as Error).message);
    return 2;
  }
  assertWritable(args.out, "under test-output/ (the task's --allow-write)");
  const cands = candidates();
  const shipped = cands.findIndex((c) => isShipped(c));
  const all: CandidateScores[] = [];
  const alarmsOutside: number[] = [];
  for (const [i, c] of cands.entries()) {
    const dir = `${args.out}/candidates/${c.name}`;
    const config = { ...DEFAULT_ENGINE_CONFIG, ...c.override };
    const summary = await runBacktest(args.input, dir, { config });
    all.push(candidateScores(await score(args, dir, `${dir}.json`, config.alarmScore)));
    alarmsOutside.push(
      summary.files.filter((f) => f.category === "artificialNoAnomaly").reduce(
        (a, f) => a + f.alarms,
        0,
      ),
    );
    await say(`[${i + 1}/${cands.length}] ${c.name}: ${summary.points} points scored`);
  }
  let optimised: Record<Profile, { score: number; threshold: number }> | undefined;
  if (shipped >= 0) {
    const dir = `${args.out}/candidates/${cands[shipped]!.name}`;
    const o = optimisedSchema.parse(await score(args, dir, `${args.out}/shipped_optimised.json`));
    const p = o.results[0]!.profiles;
    optimised = Object.fromEntries(
      PROFILES.map((k) => [k, { score: p[k]!.normalized, threshold: p[k]!.threshold }]),
    ) as Record<Profile, { score: number; threshold: number }>;
  }
  const md = formatReport(cands, all, { optimised, shipped }) +
    `\nAlarms over the whole no-anomaly files (warm-up and probation included), shipped: ${
      shipped >= 0 ? alarmsOutside[shipped] : "–"
    }.\n`;
  await Deno.writeTextFile(`${args.out}/loco.md`, md);
  await Deno.writeTextFile(
    `${args.out}/loco.json`,
    JSON.stringify(
      {
        grid: GRID,
        candidates: cands.map((c, i) => ({
          ...c,
          objective: objective(all[i]!, () => true),
          noAnomalyAlarms: alarmsOutside[i],
        })),
        loco: leaveOneCategoryOut(all).map((r) => ({ ...r, chosen: cands[r.chosen]!.name })),
        pooled: pooledLoco(all, leaveOneCategoryOut(all)),
        chosenOnAll: cands[choose(all, () => true)]!.name,
        shipped: shipped >= 0 ? cands[shipped]!.name : null,
        optimised,
      },
      null,
      1,
    ) + "\n",
  );
  await Deno.stdout.write(enc.encode(md));
  return 0;
}

if (import.meta.main) await runTool("validate:stats", main);
