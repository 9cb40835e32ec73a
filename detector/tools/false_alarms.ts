/**
 * False alarms of the engine on clean generated series (no anomaly in them),
 * as docs/statistics.md ("Known limits") quotes them:
 *
 * ```
 * deno run detector/tools/false_alarms.ts [--points 40000] [--seeds 8] [--amplitude 15] [--noise 2]
 * ```
 *
 * Each seed is one series: a daily sine of `amplitude` around 50 plus
 * Gaussian noise of standard deviation `noise`, a point every 5 minutes
 * (`--amplitude 0`: noise alone). Prints the alarms (score ≥ 0.5) by reason
 * and per 5,000-point segment, and the points per alarm. The rate is per
 * point: the engine counts points, not time.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { createSeriesState, DEFAULT_ENGINE_CONFIG, update } from "../core/stats/engine.ts";
import { dailySeries } from "./testing/series.ts";
import { runTool } from "./tool_main.ts";

const SEGMENT = 5000;
const Args = z.object({
  points: z.coerce.number().int().min(1).max(10_000_000).default(40_000),
  seeds: z.coerce.number().int().min(1).max(1000).default(8),
  amplitude: z.coerce.number().min(0).max(1e6).default(15),
  noise: z.coerce.number().positive().max(1e6).default(2),
});

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      points: { type: "string" },
      seeds: { type: "string" },
      amplitude: { type: "string" },
      noise: { type: "string" },
    },
  });
  const o = Args.parse(values);
  const byReason: Record<string, number> = {};
  const bySegment = new Array<number>(Math.ceil(o.points / SEGMENT)).fill(0);
  let alarms = 0;
  for (let seed = 1; seed <= o.seeds; seed++) {
    const series = dailySeries({ points: o.points, seed, amplitude: o.amplitude, noise: o.noise });
    const state = createSeriesState();
    for (let i = 0; i < o.points; i++) {
      const r = update(state, series.ts[i]!, series.values[i]!, DEFAULT_ENGINE_CONFIG);
      if (r.score < 0.5) continue;
      alarms++;
      byReason[r.explanation.reason] = (byReason[r.explanation.reason] ?? 0) + 1;
      bySegment[Math.floor(i / SEGMENT)]!++;
    }
  }
  const points = o.points * o.seeds;
  const report = {
    ...o,
    alarms,
    points_per_alarm: alarms > 0 ? Math.round(points / alarms) : null,
    by_reason: byReason,
    [`per_${SEGMENT}_points`]: bySegment,
  };
  await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(report) + "\n"));
  return 0;
}

if (import.meta.main) await runTool("false_alarms", main);
