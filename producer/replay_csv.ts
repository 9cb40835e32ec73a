/**
 * Reading replay files: the three CSV forms of replay.ts, each row checked
 * with the schema the bridge applies, and the metric event a reading
 * becomes (shared with the replay, so the check and the events agree).
 *
 * @module
 */
import { parseCsv } from "@vigil/shared/csv";
import {
  asciiLower,
  eventName,
  formatZodError,
  metricEventSchema,
  timestampSchema,
  TRANSACTION_STATUSES,
  type TransactionStatus,
} from "@vigil/shared/schemas/event";
import {
  decimalNumber,
  isRawTransactionHeader,
  parseRawTransactions,
  type RawTransaction,
  shownCell,
} from "./replay_transactions.ts";

/**
 * The most transactions one `timestamp,status,count` row may count: 16,667
 * a second, far above a real payment flow's minute, and a bound on the work
 * one row asks for (a mistyped 100000000 is refused with its line).
 */
export const MAX_MINUTE_COUNT = 1_000_000;

/** One `timestamp,value` reading (`line`: where the file has it, for errors). */
export interface ValueRow {
  ts: number;
  value: number;
  line?: number;
}

/** One `timestamp,status,count` row. */
export interface StatusRow {
  ts: number;
  status: TransactionStatus;
  count: number;
}

/** A parsed replay file. */
export type ReplayData =
  | {
    kind: "value";
    rows: ValueRow[];
    /** The metric field the readings were checked for at parse time, if any. */
    checkedFor?: "cpu" | "latency_ms";
  }
  | { kind: "status"; rows: StatusRow[] }
  | { kind: "transactions"; rows: RawTransaction[] };

/** How the values of a `timestamp,value` file are replayed, to check them as the events they make. */
export interface ReplayParseOptions {
  /** The metric field of the values; unset, they are checked by replay.ts' `replayMessages`. */
  field?: "cpu" | "latency_ms";
  /** The service of the readings. @default {"replay"} */
  service?: string;
}

/** The start of the minute (UTC) `ts` falls in. */
export function minuteOf(ts: number): number {
  return Math.floor(ts / 60_000) * 60_000;
}

/**
 * The service of replayed readings, as the metric schema's `service` field
 * reads it (trimmed; no control character, 1..128 characters).
 *
 * @throws {RangeError} with the schema's reason
 */
export function replayService(service: string): string {
  const r = eventName(128).safeParse(service);
  if (!r.success) {
    throw new RangeError(
      `Cannot replay: service "${shownCell(service)}": ${
        formatZodError(r.error).replace(/^\(root\): /, "")
      }`,
    );
  }
  return r.data;
}

/** The metric event a reading becomes (the one builder the replay and its check share). */
export function metricEvent(
  value: number,
  field: "cpu" | "latency_ms",
  service: string,
  timestamp: string,
): Record<string, unknown> {
  const v = field === "cpu" ? Math.min(100, Math.max(0, value)) : Math.max(0, value);
  return {
    timestamp,
    service,
    ...(field === "cpu" ? { cpu: v } : {}),
    latency_ms: field === "latency_ms" ? v : 0,
  };
}

/**
 * Check every reading as the metric event it makes with `field` and
 * `service` (the schema the bridge applies).
 *
 * @throws {RangeError} for a bad service
 * @throws {SyntaxError} naming the line of the first reading the schema refuses, with its reason
 */
export function checkReadings(
  rows: readonly ValueRow[],
  field: "cpu" | "latency_ms",
  service: string,
) {
  const name = replayService(service);
  for (const row of rows) {
    const timestamp = new Date(row.ts).toISOString();
    const r = metricEventSchema.safeParse(metricEvent(row.value, field, name, timestamp));
    if (!r.success) {
      const where = row.line !== undefined ? `line ${row.line}` : `the reading at ${timestamp}`;
      throw new SyntaxError(
        `Cannot parse replay file: ${where}: value ${row.value} is not a valid ${field} (${
          formatZodError(r.error)
        })`,
      );
    }
  }
}

function parseTs(raw: string, line: number): number {
  const r = timestampSchema.safeParse(raw);
  if (!r.success) {
    throw new SyntaxError(
      `Cannot parse replay file: line ${line}: bad timestamp "${shownCell(raw)}"`,
    );
  }
  return Date.parse(r.data);
}

/**
 * Read and parse the replay file at `path` (before anything is sent, so a
 * missing file or a bad row is reported before Kafka is even contacted).
 *
 * @throws {Error} naming the file when it cannot be read
 * @throws {SyntaxError} naming the line, for an unknown header or a bad row
 */
export async function loadReplay(
  path: string,
  readTextFile: (path: string) => Promise<string> = Deno.readTextFile,
  options: ReplayParseOptions = {},
): Promise<ReplayData> {
  const text = await readTextFile(path).catch((error) => {
    throw new Error(`Cannot read replay file ${path}: ${(error as Error).message}`);
  });
  return parseReplayCsv(text, options);
}

/**
 * Parse a replay CSV (any form). Rows are sorted by time. Raw transactions
 * are checked with the transaction schema; `timestamp,value` readings with
 * the metric schema when `options.field` is given.
 *
 * @throws {SyntaxError} naming the line, for an unknown header or a bad row
 * @throws {RangeError} for a bad `options.service`
 */
export function parseReplayCsv(text: string, options: ReplayParseOptions = {}): ReplayData {
  const records = parseCsv(text, "Cannot parse replay file");
  if (records.length === 0) throw new SyntaxError("Cannot parse replay file: it is empty");
  const columns = records[0]!.cells.map((h) => h.toLowerCase());
  const header = columns.join(",");
  const rows: ValueRow[] = [];
  const statusRows: StatusRow[] = [];
  let kind: "value" | "status" | "transactions";
  if (header === "timestamp,value") kind = "value";
  else if (header === "timestamp,status,count") kind = "status";
  else if (isRawTransactionHeader(columns)) kind = "transactions";
  else {
    throw new SyntaxError(
      `Cannot parse replay file: header "${
        records[0]!.cells.join(",").slice(0, 60)
      }" is not "timestamp,value", "timestamp,status,count" nor raw transactions ` +
        `(timestamp,status,amount,…)${
          columns.length === 1 && /[;\t]/.test(header)
            ? "; cells are separated by commas, not ; or tabs"
            : ""
        }`,
    );
  }
  // A header alone replayed nothing and the producer exited 0, as if it had worked.
  if (records.length === 1) {
    throw new SyntaxError(
      `Cannot parse replay file: it has a header but no rows ("${shownCell(header)}")`,
    );
  }
  if (kind === "transactions") {
    return { kind, rows: parseRawTransactions(columns, records.slice(1)) };
  }
  for (const { line, cells } of records.slice(1)) {
    if (kind === "value") {
      if (cells.length !== 2) {
        throw new SyntaxError(
          `Cannot parse replay file: line ${line}: expected 2 columns, got ${cells.length}`,
        );
      }
      const value = decimalNumber(cells[1]!);
      if (!Number.isFinite(value)) {
        throw new SyntaxError(
          `Cannot parse replay file: line ${line}: value "${shownCell(cells[1]!)}" is not a number`,
        );
      }
      rows.push({ ts: parseTs(cells[0]!, line), value, line });
    } else {
      if (cells.length !== 3) {
        throw new SyntaxError(
          `Cannot parse replay file: line ${line}: expected 3 columns, got ${cells.length}`,
        );
      }
      const status = asciiLower(cells[1]!);
      if (!(TRANSACTION_STATUSES as readonly string[]).includes(status)) {
        throw new SyntaxError(
          `Cannot parse replay file: line ${line}: unknown status "${shownCell(cells[1]!)}"`,
        );
      }
      // An empty cell is no count (Number("") would read it as 0).
      const count = decimalNumber(cells[2]!);
      if (!Number.isInteger(count) || count < 0 || count > MAX_MINUTE_COUNT) {
        throw new SyntaxError(
          `Cannot parse replay file: line ${line}: count "${
            shownCell(cells[2]!)
          }" is not a whole number from 0 to ${MAX_MINUTE_COUNT} (transactions in the minute)`,
        );
      }
      statusRows.push({ ts: parseTs(cells[0]!, line), status: status as TransactionStatus, count });
    }
  }
  if (kind === "value") {
    rows.sort((a, b) => a.ts - b.ts);
    if (!options.field) return { kind, rows };
    checkReadings(rows, options.field, options.service ?? "replay");
    return { kind, rows, checkedFor: options.field };
  }
  statusRows.sort((a, b) => a.ts - b.ts);
  return { kind, rows: statusRows };
}
