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
 * It is evidence for the method in `docs/statistics.md`, not a tuning tool
 * (the parameters that were chosen are chosen by `loco.ts`): the detector
 * and `deno task backtest` only ever run {@link DEFAULT_ENGINE_CONFIG}.
 *
 * @module
 */

import { parseArgs, runBacktest } from "./backtest.ts";
import { DEFAULT_ENGINE_CONFIG, type EngineConfig } from "../core/stats/engine.ts";
import { runTool } from "./tool_main.ts";

/** Named variants: the shipped configuration with some fields overridden. */
export const VARIANTS: Readonly<Record<string, Partial<EngineConfig>>> = {
  "0_shipped": {},
  "1_no_artime": { artime: false },
  "2_no_likelihood": { likelihood: false },
  "3_no_new_extreme": { rangeTolerance: 1e9 },
  "4_no_time_of_day": { seasonAdvantage: 0 },
  "5_no_cooldown": { cooldownPoints: 0 },
  "6_no_early_phase_warmup_300": { warmupPoints: 300, earlyPoints: 300 },
  "7_robust_z_only": { likelihood: false, rangeTolerance: 1e9, seasonAdvantage: 0, artime: false },
  "8_previous_engine": {
    artime: false,
    alarmProbability: 1e-5,
    rangeTolerance: 0.1,
    warmupPoints: 300,
    earlyPoints: 300,
  },
  "9_artime_max_categories_64": { artMaxCategories: 64 },
  "10_artime_downsample_5": { artDownsample: 5 },
  "11_artime_downsample_7": { artDownsample: 7 },
  "12_artime_range_margin_0.25": { artRangeMargin: 0.25 },
  "13_artime_range_margin_1": { artRangeMargin: 1 },
};

async function main(): Promise<number> {
  const enc = new TextEncoder();
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(Deno.args);
  } catch (e) {
    await Deno.stderr.write(enc.encode((e as Error).message + "\n"));
    return 2;
  }
  for (const [name, override] of Object.entries(VARIANTS)) {
    const config: EngineConfig = { ...DEFAULT_ENGINE_CONFIG, ...override };
    const s = await runBacktest(args.input, `${args.out.replace(/\/+$/, "")}/${name}`, { config });
    await Deno.stdout.write(
      enc.encode(`${name}: ${s.points} points in ${s.seconds.toFixed(2)} s\n`),
    );
  }
  return 0;
}

if (import.meta.main) await runTool("ablation", main);
