/**
 * Per-category NAB figures from the JSON that `nab_score.py --json` writes:
 * for each profile, the normalised score of each category at the corpus
 * threshold (the same one threshold for every file), windows detected and
 * false-positive detections, as a markdown table.
 *
 * ```
 * python3 ../shared/tools/nab_score.py /tmp/nab_out --labels ../shared/data/nab/labels.json \
 *   --data-dir ../shared/data/nab --detector vigil --threshold 0.5 --json /tmp/nab.json
 * deno run --allow-read detector/tools/nab_report.ts /tmp/nab.json
 * ```
 *
 * Normalisation per category is NAB's: 100 × (S − S_null) / (S_perfect − S_null)
 * with S_perfect = tpWeight × windows and S_null = −fnWeight × scorable windows.
 * A category without windows (artificialNoAnomaly) has no normalised score;
 * its false-positive count is what matters.
 *
 * @module
 */

import { z } from "zod";
import { reasonOf, runTool } from "./tool_main.ts";

/** One file's figures in `nab_score.py --json` output. */
export const perFileSchema = z.object({
  file: z.string(),
  score: z.number(),
  windows: z.number(),
  windows_scored: z.number(),
  windows_detected: z.number(),
  fp_detections: z.number(),
});
const profile = z.object({
  normalized: z.number(),
  threshold: z.number().nullable(),
  windows: z.number(),
  windows_detected: z.number(),
  fp_detections: z.number(),
  per_file: z.array(perFileSchema),
});
/** Schema of the JSON that `nab_score.py --json` writes (the parts used here). */
export const nabScoreSchema = z.object({
  profiles: z.record(z.string(), z.object({ tpWeight: z.number(), fnWeight: z.number() })),
  results: z.array(z.object({ detector: z.string(), profiles: z.record(z.string(), profile) }))
    .min(1),
});

/** Figures of one category under one profile. */
export interface CategoryRow {
  category: string;
  files: number;
  windows: number;
  detected: number;
  falsePositives: number;
  /** NaN when the category has no windows. */
  normalized: number;
}

/** Groups `per_file` rows by category folder and normalises each group. */
export function categoryRows(
  files: z.infer<typeof perFileSchema>[],
  weights: { tpWeight: number; fnWeight: number },
): CategoryRow[] {
  const groups = new Map<string, z.infer<typeof perFileSchema>[]>();
  for (const f of files) {
    const category = f.file.split("/")[0] ?? f.file;
    groups.set(category, [...groups.get(category) ?? [], f]);
  }
  return [...groups].sort(([a], [b]) => a.localeCompare(b)).map(([category, fs]) => {
    let raw = 0;
    let windows = 0;
    let scored = 0;
    let detected = 0;
    let fp = 0;
    for (const f of fs) {
      raw += f.score;
      windows += f.windows;
      scored += f.windows_scored;
      detected += f.windows_detected;
      fp += f.fp_detections;
    }
    const perfect = weights.tpWeight * windows;
    const nul = -weights.fnWeight * scored;
    return {
      category,
      files: fs.length,
      windows,
      detected,
      falsePositives: fp,
      normalized: perfect > nul ? (100 * (raw - nul)) / (perfect - nul) : NaN,
    };
  });
}

/** Formats the markdown table for the first detector in `json`. */
export function formatReport(json: unknown): string {
  const r = nabScoreSchema.parse(json);
  const result = r.results[0]!;
  const lines = [
    "| profile | threshold | category | files | windows detected | FP detections | score |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const [name, p] of Object.entries(result.profiles)) {
    const weights = r.profiles[name] ?? { tpWeight: 1, fnWeight: 1 };
    const rows = categoryRows(p.per_file, weights);
    const t = p.threshold === null ? "none" : String(Number(p.threshold.toFixed(4)));
    for (const row of rows) {
      const score = Number.isNaN(row.normalized) ? "–" : row.normalized.toFixed(2);
      lines.push(
        `| ${name} | ${t} | ${row.category} | ${row.files} | ${row.detected}/${row.windows} | ${row.falsePositives} | ${score} |`,
      );
    }
    lines.push(
      `| ${name} | ${t} | **all** | ${p.per_file.length} | ${p.windows_detected}/${p.windows} | ${p.fp_detections} | **${
        p.normalized.toFixed(2)
      }** |`,
    );
  }
  return lines.join("\n") + "\n";
}

/** Reads the JSON at `path` and formats it (the command line's work). */
export async function reportFile(path: string): Promise<string> {
  const text = await Deno.readTextFile(path);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(`${path}: ${(error as Error).message}`);
  }
  const r = nabScoreSchema.safeParse(json);
  if (!r.success) {
    throw new TypeError(
      `${path} is not what nab_score.py --json writes (${reasonOf(r.error)})`,
    );
  }
  return formatReport(r.data);
}

if (import.meta.main) {
  await runTool("nab_report", async () => {
    const path = Deno.args[0];
    if (!path) {
      await Deno.stderr.write(
        new TextEncoder().encode("usage: nab_report.ts <nab_score.py --json output>\n"),
      );
      return 2;
    }
    await Deno.stdout.write(new TextEncoder().encode(await reportFile(path)));
    return 0;
  });
}
