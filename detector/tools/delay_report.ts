/**
 * Detection delays and whole-file alarms from a backtest folder:
 *
 * ```
 * deno task backtest ../shared/data/nab --out /tmp/nab_out
 * deno run --allow-read detector/tools/delay_report.ts /tmp/nab_out ../shared/data/nab [category …]
 * ```
 *
 * For every labelled window of the given categories (default
 * `artificialWithAnomaly`): the first alarm (score ≥ 0.5) inside it, as
 * points and time after the window's start (NAB windows are centred on the
 * anomaly, so a detection at the anomaly itself is about half a window late;
 * the delay from the window's centre is printed too). For the files without
 * windows (`artificialNoAnomaly`): alarms over the whole file, warm-up
 * included (NAB ignores its first 15 %).
 *
 * @module
 */

import { z } from "zod";
import { runTool } from "./tool_main.ts";

/** One window's outcome. */
export interface WindowDelay {
  file: string;
  /** Row indices (0-based data rows) of the window. */
  start: number;
  end: number;
  /** Row of the first alarm inside the window, or null. */
  firstAlarm: number | null;
  /** Points from the window's start to the first alarm (null when missed). */
  delay: number | null;
}

/**
 * First alarm inside each window: `scores` per data row, windows as
 * inclusive row ranges.
 */
export function windowDelays(
  file: string,
  scores: readonly number[],
  windows: readonly [number, number][],
  alarm = 0.5,
): WindowDelay[] {
  return windows.map(([start, end]) => {
    let first: number | null = null;
    for (let i = start; i <= end && i < scores.length; i++) {
      if (scores[i]! >= alarm) {
        first = i;
        break;
      }
    }
    return { file, start, end, firstAlarm: first, delay: first === null ? null : first - start };
  });
}

const labelsSchema = z.record(z.string(), z.array(z.tuple([z.string(), z.string()])));

function rows(text: string): string[][] {
  return text.trim().split(/\r?\n/).slice(1).map((l) => l.split(","));
}

async function main(): Promise<number> {
  const [out, nab, ...cats] = Deno.args;
  if (!out || !nab) {
    await Deno.stderr.write(
      new TextEncoder().encode(
        "usage: delay_report.ts <backtest out folder> <NAB data folder> [category …]\n",
      ),
    );
    return 2;
  }
  const categories = cats.length ? cats : ["artificialWithAnomaly"];
  const labels = labelsSchema.parse(JSON.parse(await Deno.readTextFile(`${nab}/labels.json`)));
  const lines = [
    "| file | window (rows) | first alarm (row) | delay from window start | from window centre |",
    "|---|---|---|---|---|",
  ];
  for (const [rel, wins] of Object.entries(labels).sort()) {
    const [category, name] = rel.split("/");
    if (!category || !name || !categories.includes(category)) continue;
    const data = rows(await Deno.readTextFile(`${nab}/${rel}`));
    const index = new Map<string, number>();
    data.forEach((r, i) => {
      if (!index.has(r[0]!)) index.set(r[0]!, i);
    });
    const scores = rows(await Deno.readTextFile(`${out}/${category}/vigil_${name}`)).map((r) =>
      Number(r[2])
    );
    const stepMin = (Date.parse(data[1]![0]!.replace(" ", "T") + "Z") -
      Date.parse(data[0]![0]!.replace(" ", "T") + "Z")) / 60_000;
    const windows = wins.map(([a, b]) =>
      [index.get(a.slice(0, 19))!, index.get(b.slice(0, 19))!] as [number, number]
    );
    for (const d of windowDelays(name, scores, windows)) {
      const centre = Math.round((d.start + d.end) / 2);
      lines.push(
        `| ${name} | ${d.start}–${d.end} | ${d.firstAlarm ?? "missed"} | ${
          d.delay === null ? "–" : `${d.delay} points (${d.delay * stepMin} min)`
        } | ${d.firstAlarm === null ? "–" : `${d.firstAlarm - centre} points`} |`,
      );
    }
  }
  lines.push(
    "",
    "| no-anomaly file | points | alarms (whole file) | maximum score |",
    "|---|---|---|---|",
  );
  const names: string[] = [];
  for await (const e of Deno.readDir(`${out}/artificialNoAnomaly`)) {
    if (e.name.endsWith(".csv")) names.push(e.name);
  }
  for (const name of names.sort()) {
    const scores = rows(await Deno.readTextFile(`${out}/artificialNoAnomaly/${name}`)).map((
      r,
    ) => Number(r[2]));
    lines.push(
      `| ${name.replace(/^vigil_/, "")} | ${scores.length} | ${
        scores.filter((s) => s >= 0.5).length
      } | ${Math.max(...scores).toFixed(3)} |`,
    );
  }
  await Deno.stdout.write(new TextEncoder().encode(lines.join("\n") + "\n"));
  return 0;
}

if (import.meta.main) await runTool("delay_report", main);
