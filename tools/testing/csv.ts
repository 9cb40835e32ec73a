/**
 * CSV for the producer's replay tests: a replay parsed from a text, and a temporary file.
 *
 * @module
 */
import { parseCsv } from "@vigil/shared/csv";
import {
  emptyError,
  heldReplay,
  noRowsError,
  type ReplayData,
  type ReplayParseOptions,
  replayRowParser,
} from "@vigil/producer/replay_csv";

/**
 * Parse a replay CSV (any form). Rows are sorted by time (a stable sort:
 * rows of the same time keep the file's order). Raw transactions are checked
 * with the transaction schema; `timestamp,value` readings with the metric
 * schema when `options.field` is given.
 *
 * @throws {SyntaxError} naming the line, for an unknown header or a bad row
 * @throws {RangeError} for a bad `options.service`
 */
export function parseReplayCsv(text: string, options: ReplayParseOptions = {}): ReplayData {
  const records = parseCsv(text, "Cannot parse replay file");
  if (records.length === 0) throw emptyError();
  const parser = replayRowParser(records[0]!, options);
  if (records.length === 1) throw noRowsError(records[0]!);
  const rows = records.slice(1).map(parser.parse).sort((a, b) => a.ts - b.ts);
  return heldReplay(parser.kind, rows, options.field);
}

/** Run `fn` with the path of a temporary `.csv` file holding `text`, removed after. */
export async function withCsv<T>(text: string, fn: (path: string) => Promise<T>): Promise<T> {
  const path = await Deno.makeTempFile({ suffix: ".csv" });
  try {
    await Deno.writeTextFile(path, text);
    return await fn(path);
  } finally {
    await Deno.remove(path);
  }
}
