/**
 * Ablation benchmark: replays a folder of `timestamp,value` CSV files (the
 * NAB subset) through the shipped engine and through variants with one stage
 * switched off or one parameter moved, writing one NAB results folder per
 * variant so that `nab_score.py` scores them side by side:
 *
 * ```
 * deno run --allow-read --allow-write detector/tools/ablation.ts ../shared/data/nab --out /tmp/ablation
 * python3 ../shared/tools/nab_score.py /tmp/ablation/* --labels ../shared/data/nab/labels.json \
 *   --data-dir ../shared/data/nab --detector vigil -q
 * ```
 *
 * It is evidence for the README's choice of method, not a tuning tool: the
 * detector and `deno task backtest` only ever run {@link DEFAULT_ENGINE_CONFIG}.
 *
 * @module
 */

import { parseArgs, runBacktest } from "./backtest.ts";
import { createStatsEngine } from "../core/score_engine.ts";
import { DEFAULT_ENGINE_CONFIG, type EngineConfig } from "../core/stats/engine.ts";

/** Named variants: the shipped configuration with some fields overridden. */
export const VARIANTS: Readonly<Record<string, Partial<EngineConfig>>> = {
  "0_shipped": {},
  "1_no_likelihood": { likelihood: false },
  "2_no_new_extreme": { rangeTolerance: 1e9 },
  "3_no_time_of_day": { seasonAdvantage: 0 },
  "4_no_cooldown": { cooldownPoints: 0 },
  "5_robust_z_only": { likelihood: false, rangeTolerance: 1e9, seasonAdvantage: 0 },
  "6_window_144": { windowSize: 144 },
  "7_window_576": { windowSize: 576 },
  "8_deviation_free_3": { deviationFree: 3 },
  "9_range_tolerance_0.2": { rangeTolerance: 0.2 },
};

async function main(): Promise<number> {
  const enc = new TextEncoder();
  const args = parseArgs(Deno.args);
  for (const [name, override] of Object.entries(VARIANTS)) {
    const config: EngineConfig = { ...DEFAULT_ENGINE_CONFIG, ...override };
    const s = await runBacktest(
      args.input,
      `${args.out.replace(/\/+$/, "")}/${name}`,
      createStatsEngine(config),
    );
    await Deno.stdout.write(
      enc.encode(`${name}: ${s.points} points in ${s.seconds.toFixed(2)} s\n`),
    );
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main());
