/**
 * Backtest: replays `timestamp,value` CSV files through the statistical
 * engine exactly as the detector runs it (same `update`, same
 * {@link DEFAULT_ENGINE_CONFIG}), one fresh series state per file, and writes
 * NAB-layout results that `../shared/tools/nab_score.py` scores:
 *
 * ```
 * deno task backtest <csv or folder> --out <folder>
 * ```
 *
 * writes `<out>/<category>/vigil_<file>.csv` (`timestamp,value,anomaly_score`,
 * one row per input row, in file order; category = the input file's parent folder name) and
 * `<out>/summary.json`, and prints a summary (files, points, points/s).
 *
 * @module
 */

import { parseCsv } from "@vigil/shared/csv";
import { timestampSchema } from "@vigil/shared/schemas/event";
import { createStatsEngine, type ScoreEngine } from "../core/score_engine.ts";
import { DEFAULT_ENGINE_CONFIG, type EngineConfig } from "../core/stats/engine.ts";

/** Name prefixed to result files (`vigil_<file>.csv`). */
export const DETECTOR_NAME = "vigil";

/** Per-file figures of a backtest. */
export interface FileSummary {
  /** Input path. */
  input: string;
  /** Result path written. */
  output: string;
  /** Parent folder name of the input. */
  category: string;
  /** Data rows. */
  points: number;
  /** Rows whose value was empty or not a finite number. */
  missing: number;
  /** Rows scoring at or above the engine's alarm score. */
  alarms: number;
  /** Highest score. */
  maxScore: number;
  /** Rows earlier than the row before (scored in file order; a newest-first file is all). */
  backwards: number;
}

/** Result of {@link runBacktest}. */
export interface BacktestSummary {
  detector: string;
  files: FileSummary[];
  points: number;
  /** Wall time of reading, scoring and writing, in seconds. */
  seconds: number;
  pointsPerSecond: number;
  alarmScore: number;
}

/**
 * Parses a CSV timestamp to epoch ms as an event's `timestamp` is read
 * (`timestampSchema`, docs/events.md: ISO 8601 / `YYYY-MM-DD HH:MM:SS[.fff]`,
 * UTC unless an offset is given, or epoch seconds below 1e10, else epoch
 * milliseconds), plus a date alone (a daily series: midnight UTC). NaN
 * otherwise: no guessing (Date.parse rolled Feb 30 into March and read
 * "Jan 1 2025" in the local zone).
 */
export function parseTimestamp(text: string): number {
  const t = text.trim();
  // NAB's form first, without the schema's cost (~10 µs a row): the same answer, checked by
  // rebuilding it (Date.UTC rolls Feb 30 into March, hour 24 into the next day).
  const m = NAB_TIME.exec(t);
  if (m) {
    const [y, mo, d, h, mi, sec] = m.slice(1).map(Number) as [number, ...number[]];
    const ms = Date.UTC(y, mo! - 1, d, h, mi, sec);
    const back = new Date(ms);
    const same = back.getUTCFullYear() === y && back.getUTCMonth() === mo! - 1 &&
      back.getUTCDate() === d && back.getUTCHours() === h && back.getUTCMinutes() === mi;
    return same && ms >= 0 && ms <= MAX_TIME ? ms : NaN;
  }
  const r = timestampSchema.safeParse(/^\d{4}-\d{2}-\d{2}$/.test(t) ? `${t}T00:00:00Z` : t);
  return r.success ? Date.parse(r.data) : NaN;
}

const NAB_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/;
/** The schema's latest time, 2200-01-01T00:00:00Z. */
const MAX_TIME = Date.UTC(2200, 0, 1);

/** A cell as RFC 4180 writes it: quoted when it holds a comma, a quote or a line break. */
function csvCell(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * Scores one CSV text (header with `timestamp` and `value` columns) and
 * returns the result CSV text plus figures. `engine` defaults to the shipped
 * engine (what the detector's `metric_score` rule runs).
 *
 * @throws {TypeError} on a missing column or an unparseable timestamp.
 */
export function scoreCsv(
  text: string,
  name = "input",
  engine: ScoreEngine = createStatsEngine() as ScoreEngine,
  alarmScore: number = DEFAULT_ENGINE_CONFIG.alarmScore,
): {
  csv: string;
  points: number;
  missing: number;
  alarms: number;
  maxScore: number;
  backwards: number;
} {
  const [head, ...rows] = parseCsv(text, `Cannot backtest ${name}`);
  const header = (head?.cells ?? []).map((h) => h.toLowerCase());
  const shown = (head?.cells ?? []).join(",");
  const ti = header.indexOf("timestamp");
  const vi = header.indexOf("value");
  if (ti < 0 || vi < 0) {
    throw new TypeError(
      `Cannot backtest ${name}: header needs timestamp and value columns, got "${shown}"`,
    );
  }
  let state = engine.create();
  const out: string[] = ["timestamp,value,anomaly_score"];
  let points = 0;
  let missing = 0;
  let alarms = 0;
  let maxScore = 0;
  let backwards = 0;
  let lastTs = -Infinity;
  for (const { line, cells } of rows) {
    const tsText = cells[ti] ?? "";
    const valueText = cells[vi] ?? "";
    const ts = parseTimestamp(tsText);
    if (!Number.isFinite(ts)) {
      throw new TypeError(`Cannot backtest ${name}: line ${line}: bad timestamp "${tsText}"`);
    }
    // Scored in file order, as a detector takes events in arrival order (NAB's
    // machine_temperature steps back once); counted, so a newest-first export is told.
    if (ts < lastTs) backwards++;
    lastTs = ts;
    const value = valueText === "" ? NaN : Number(valueText);
    if (!Number.isFinite(value)) missing++;
    const r = engine.update(state, ts, value);
    state = r.state;
    const score = r.score;
    points++;
    if (score >= alarmScore) alarms++;
    if (score > maxScore) maxScore = score;
    out.push(`${csvCell(tsText)},${csvCell(valueText)},${score}`);
  }
  return { csv: out.join("\n") + "\n", points, missing, alarms, maxScore, backwards };
}

function basename(path: string): string {
  const parts = path.replace(/\/+$/, "").split("/");
  return parts[parts.length - 1] ?? path;
}

function dirname(path: string): string {
  const i = path.replace(/\/+$/, "").lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

async function collectCsv(path: string): Promise<string[]> {
  const info = await Deno.stat(path);
  if (info.isFile) return [path];
  const found: string[] = [];
  for await (const entry of Deno.readDir(path)) {
    const child = `${path.replace(/\/+$/, "")}/${entry.name}`;
    if (entry.isDirectory) found.push(...await collectCsv(child));
    else if (entry.isFile && entry.name.toLowerCase().endsWith(".csv")) found.push(child);
  }
  return found.sort();
}

/** Options of {@link runBacktest}. */
export interface BacktestOptions {
  /**
   * Engine configuration to run (recorded in `summary.json`). Only the
   * ablation benchmark and the leave-one-category-out validation pass one.
   * @default {DEFAULT_ENGINE_CONFIG}
   */
  config?: Readonly<EngineConfig>;
}

/**
 * Replays every CSV file at `input` (a file, or a folder searched
 * recursively) and writes results under `outDir`.
 *
 * @throws {TypeError} if no CSV file is found or a file is malformed.
 * @throws {RangeError} if `options.config` is invalid.
 */
export async function runBacktest(
  input: string,
  outDir: string,
  options: BacktestOptions = {},
): Promise<BacktestSummary> {
  const config = options.config ?? DEFAULT_ENGINE_CONFIG;
  const engine = createStatsEngine(config) as ScoreEngine;
  const t0 = performance.now();
  const inputs = await collectCsv(input);
  if (inputs.length === 0) throw new TypeError(`Cannot backtest: no .csv files under ${input}`);
  const files: FileSummary[] = [];
  let points = 0;
  for (const path of inputs) {
    const category = basename(dirname(path));
    const r = scoreCsv(await Deno.readTextFile(path), path, engine, config.alarmScore);
    const dir = `${outDir.replace(/\/+$/, "")}/${category}`;
    await Deno.mkdir(dir, { recursive: true });
    const output = `${dir}/${DETECTOR_NAME}_${basename(path)}`;
    await Deno.writeTextFile(output, r.csv);
    points += r.points;
    files.push({
      input: path,
      output,
      category,
      points: r.points,
      missing: r.missing,
      alarms: r.alarms,
      maxScore: r.maxScore,
      backwards: r.backwards,
    });
  }
  const seconds = (performance.now() - t0) / 1000;
  const summary: BacktestSummary = {
    detector: DETECTOR_NAME,
    files,
    points,
    seconds,
    pointsPerSecond: seconds > 0 ? points / seconds : 0,
    alarmScore: config.alarmScore,
  };
  await Deno.writeTextFile(
    `${outDir.replace(/\/+$/, "")}/summary.json`,
    JSON.stringify({ ...summary, config }, null, 1) + "\n",
  );
  return summary;
}

/** Parsed command line of the backtest CLI. */
export interface BacktestArgs {
  input: string;
  out: string;
}

const USAGE = "usage: deno task backtest <csv file or folder> --out <folder>";

/**
 * Parses `<input> --out <folder>` (also `--out=<folder>`).
 *
 * @throws {TypeError} with the usage text when arguments are missing or unknown.
 */
export function parseArgs(args: readonly string[]): BacktestArgs {
  let input: string | undefined;
  let out: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--out") out = args[++i];
    else if (a.startsWith("--out=")) out = a.slice(6);
    else if (a.startsWith("-")) {
      throw new TypeError(`Cannot parse arguments: unknown option ${a}\n${USAGE}`);
    } else if (input === undefined) input = a;
    else throw new TypeError(`Cannot parse arguments: unexpected ${a}\n${USAGE}`);
  }
  if (!input || !out) {
    throw new TypeError(`Cannot parse arguments: need an input and --out\n${USAGE}`);
  }
  return { input, out };
}

/** Formats the printed summary. */
export function formatSummary(s: BacktestSummary): string {
  const lines = s.files.map((f) =>
    `${f.category}/${basename(f.input)}: ${f.points} points, ${f.alarms} alarms, max score ${
      f.maxScore.toFixed(3)
    }${
      f.backwards > 0
        ? `; ${f.backwards} row${
          f.backwards === 1 ? "" : "s"
        } earlier than the row before (scored in file order: sort it by time)`
        : ""
    }`
  );
  lines.push(
    `${s.files.length} files, ${s.points} points in ${s.seconds.toFixed(2)} s (${
      Math.round(s.pointsPerSecond)
    } points/s, including I/O)`,
  );
  return lines.join("\n") + "\n";
}

async function main(): Promise<number> {
  const enc = new TextEncoder();
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    await Deno.stdout.write(enc.encode(USAGE + "\n"));
    return 0;
  }
  let args: BacktestArgs;
  try {
    args = parseArgs(Deno.args);
  } catch (e) {
    await Deno.stderr.write(enc.encode((e as Error).message + "\n"));
    return 2;
  }
  try {
    const summary = await runBacktest(args.input, args.out);
    await Deno.stdout.write(enc.encode(formatSummary(summary)));
    return 0;
  } catch (e) {
    await Deno.stderr.write(enc.encode(`backtest failed: ${(e as Error).message}\n`));
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main());
