/**
 * Reading replay files: the three CSV forms of replay.ts, each row checked
 * with the schema the bridge applies, and the metric event a reading
 * becomes (shared with the replay, so the check and the events agree).
 *
 * @module
 */
import type { CsvRecord } from "@vigil/shared/csv";
import {
  eventName,
  formatZodError,
  metricEventSchema,
  timestampSchema,
  type TransactionStatus,
} from "@vigil/shared/schemas/event";
import {
  decimalNumber,
  fail,
  isRawTransactionHeader,
  type RawTransaction,
  rawTransactionParser,
  shownCell,
  statusCell,
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
  for (const row of rows) checkReading(row, field, name);
}

/** {@link checkReadings} of one reading, `service` already checked. */
function checkReading(row: ValueRow, field: "cpu" | "latency_ms", service: string) {
  const timestamp = new Date(row.ts).toISOString();
  const r = metricEventSchema.safeParse(metricEvent(row.value, field, service, timestamp));
  if (!r.success) {
    const where = row.line !== undefined ? `line ${row.line}` : `the reading at ${timestamp}`;
    throw new SyntaxError(
      `Cannot parse replay file: ${where}: value ${row.value} is not a valid ${field} (${
        formatZodError(r.error)
      })`,
    );
  }
}

function parseTs(raw: string, line: number): number {
  const r = timestampSchema.safeParse(raw);
  if (!r.success) fail(line, `bad timestamp "${shownCell(raw)}"`);
  return Date.parse(r.data);
}

/** A parsed row of any form. */
export type ReplayRow = ValueRow | StatusRow | RawTransaction;

/** Reads the rows of one replay file, record by record, as its header says. */
export interface ReplayRowParser {
  kind: ReplayData["kind"];
  /**
   * The row a record makes, checked (raw transactions with the transaction
   * schema; readings with the metric schema when `options.field` is given).
   *
   * @throws {SyntaxError} naming the line of a bad row
   */
  parse(record: CsvRecord): ReplayRow;
}

/**
 * The row parser of the file whose first record is `header`.
 *
 * @throws {SyntaxError} for an unknown header
 * @throws {RangeError} for a bad `options.service`
 */
export function replayRowParser(
  header: CsvRecord,
  options: ReplayParseOptions = {},
): ReplayRowParser {
  const columns = header.cells.map((h) => h.toLowerCase());
  const joined = columns.join(",");
  if (joined === "timestamp,value") {
    const field = options.field;
    const service = field && replayService(options.service ?? "replay");
    return {
      kind: "value",
      parse: ({ line, cells }) => {
        if (cells.length !== 2) fail(line, `expected 2 columns, got ${cells.length}`);
        const value = decimalNumber(cells[1]!);
        if (!Number.isFinite(value)) fail(line, `value "${shownCell(cells[1]!)}" is not a number`);
        const row = { ts: parseTs(cells[0]!, line), value, line };
        if (field) checkReading(row, field, service!);
        return row;
      },
    };
  }
  if (joined === "timestamp,status,count") return { kind: "status", parse: statusRow };
  if (isRawTransactionHeader(columns)) {
    return { kind: "transactions", parse: rawTransactionParser(columns) };
  }
  throw new SyntaxError(
    `Cannot parse replay file: header "${
      header.cells.join(",").slice(0, 60)
    }" is not "timestamp,value", "timestamp,status,count" nor raw transactions ` +
      `(timestamp,status,amount,…)${
        columns.length === 1 && /[;\t]/.test(joined)
          ? "; cells are separated by commas, not ; or tabs"
          : ""
      }`,
  );
}

function statusRow({ line, cells }: CsvRecord): StatusRow {
  if (cells.length !== 3) fail(line, `expected 3 columns, got ${cells.length}`);
  const status = statusCell(line, cells[1]!);
  // An empty cell is no count (Number("") would read it as 0).
  const count = decimalNumber(cells[2]!);
  if (!Number.isInteger(count) || count < 0 || count > MAX_MINUTE_COUNT) {
    fail(
      line,
      `count "${
        shownCell(cells[2]!)
      }" is not a whole number from 0 to ${MAX_MINUTE_COUNT} (transactions in the minute)`,
    );
  }
  return { ts: parseTs(cells[0]!, line), status, count };
}

/** A header alone replayed nothing and the producer exited 0, as if it had worked. */
export function noRowsError(header: CsvRecord): SyntaxError {
  return new SyntaxError(
    `Cannot parse replay file: it has a header but no rows ("${
      shownCell(header.cells.map((h) => h.toLowerCase()).join(","))
    }")`,
  );
}

/** The error of a file without a single record. */
export const emptyError = () => new SyntaxError("Cannot parse replay file: it is empty");

/** The replay of rows in memory, sorted by time. */
export function heldReplay(
  kind: ReplayData["kind"],
  rows: ReplayRow[],
  checkedFor: ReplayParseOptions["field"],
): ReplayData {
  // Rows of one kind, as the parser of that kind made them.
  return { kind, rows, ...(kind === "value" && checkedFor ? { checkedFor } : {}) } as ReplayData;
}
