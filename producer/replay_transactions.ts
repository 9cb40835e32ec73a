/**
 * Raw transaction CSVs for replay: one row per transaction, as the
 * status-monitoring seed read them (`timestamp,status,amount,…`), beside the
 * per-minute `timestamp,status,count` rows of replay.ts.
 *
 * Columns, by header name (any order, any case): `timestamp` (or `time`),
 * `status` and `amount` are required; `transaction_id`, `user_id`,
 * `currency` (default USD), `merchant` and `country` are used when present;
 * any other column is ignored. Each row becomes one transaction event with
 * its own time, status and amount; that event is checked with the real
 * transaction schema as the file is parsed, so a row the bridge would
 * dead-letter (a control character in an id, an amount above the cap, a
 * currency of 4 letters, …) stops the replay with its line before anything
 * is sent. Grouped per minute, the rows give the seed's monitoring series:
 * what the detector's per-minute status rule (`status_zscore`) counts from
 * the replayed events.
 *
 * @module
 */
import {
  asciiLower,
  TRANSACTION_STATUSES,
  transactionEventSchema,
  type TransactionStatus,
} from "@vigil/shared/schemas/event";
import { escapeUnshown } from "@vigil/shared/schemas/hygiene";

/** One raw transaction row (the optional values as the schema normalises them). */
export interface RawTransaction {
  ts: number;
  status: TransactionStatus;
  amount: number;
  transactionId?: string;
  userId?: string;
  currency?: string;
  merchant?: string;
  country?: string;
}

const OPTIONAL = {
  transaction_id: "transactionId",
  user_id: "userId",
  currency: "currency",
  merchant: "merchant",
  country: "country",
} as const;

/** Is `columns` (lower-cased header cells) a raw transaction header? */
export function isRawTransactionHeader(columns: readonly string[]): boolean {
  return (columns.includes("timestamp") || columns.includes("time")) &&
    columns.includes("status") && columns.includes("amount");
}

/**
 * A cell as a decimal number (`12`, `-3.5`, `.5`, `1e3`), NaN otherwise:
 * `Number()` alone read `""` as 0 and `0x10` as 16.
 */
export function decimalNumber(cell: string): number {
  return /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(cell) ? Number(cell) : NaN;
}

/** Throw the error of a bad row: `Cannot parse replay file: line <line>: <what>`. */
export function fail(line: number, what: string): never {
  throw new SyntaxError(`Cannot parse replay file: line ${line}: ${what}`);
}

/** A status cell (any case, as the schema reads it), else its line's error. */
export function statusCell(line: number, cell: string): TransactionStatus {
  const status = asciiLower(cell);
  if (!(TRANSACTION_STATUSES as readonly string[]).includes(status)) {
    fail(line, `unknown status "${shownCell(cell)}"`);
  }
  return status as TransactionStatus;
}

/**
 * A cell as an error message quotes it: its first 40 characters (a file may
 * hold anything), on one line with its hidden characters escaped
 * (`escapeUnshown`: the very characters an error may be about).
 */
export function shownCell(cell: string): string {
  return escapeUnshown(cell.length <= 40 ? cell : `${cell.slice(0, 40)}…`);
}

/**
 * The transaction event `row` becomes, stamped `timestamp`; `transactionId`
 * and `userId` stand in for the row's own when it has none. The replay sends
 * it and the parse checks it: one builder, so what is checked is what is sent.
 */
export function rawTransactionEvent(
  row: RawTransaction,
  timestamp: string,
  transactionId: string,
  userId: string,
): Record<string, unknown> {
  return {
    timestamp,
    transaction_id: row.transactionId ?? transactionId,
    user_id: row.userId ?? userId,
    amount: row.amount,
    currency: row.currency ?? "USD",
    status: row.status,
    ...(row.merchant ? { merchant: row.merchant } : {}),
    ...(row.country ? { country: row.country } : {}),
  };
}

/** Stand-ins of the generated ids, checked in place of a missing transaction_id or user_id. */
const SAMPLE_TRANSACTION_ID = "tx-00000000";
const SAMPLE_USER_ID = "user-replay-000000-1";

/**
 * The parser of one data row of a raw transaction CSV (`columns` from its
 * header). Each row's event is validated with the transaction schema the
 * bridge applies (`transactionEventSchema`).
 *
 * @throws {SyntaxError} for a column named twice in the header; from the
 * parser, naming the line, for a bad timestamp, status or amount, or any
 * value the transaction schema refuses (with its reason)
 */
export function rawTransactionParser(
  columns: readonly string[],
): (record: { line: number; cells: string[] }) => RawTransaction {
  for (const name of ["timestamp", "time", "status", "amount", ...Object.keys(OPTIONAL)]) {
    if (columns.indexOf(name) !== columns.lastIndexOf(name)) {
      throw new SyntaxError(`Cannot parse replay file: header: column "${name}" appears twice`);
    }
  }
  const at = (name: string) => columns.indexOf(name);
  const tsCol = at("timestamp") >= 0 ? at("timestamp") : at("time");
  const statusCol = at("status");
  const amountCol = at("amount");
  /** The cell an event field came from (the timestamp's from its column, `time` or `timestamp`). */
  const cellOf = (cells: string[], field: string) =>
    cells[field === "timestamp" ? tsCol : at(field)];
  return ({ line, cells }) => {
    if (cells.length !== columns.length) {
      fail(line, `expected ${columns.length} columns, got ${cells.length}`);
    }
    const rawTs = cells[tsCol]!;
    const status = statusCell(line, cells[statusCol]!);
    const amount = decimalNumber(cells[amountCol]!);
    if (!Number.isFinite(amount) || amount <= 0) {
      fail(line, `amount "${shownCell(cells[amountCol]!)}" is not a number > 0`);
    }
    const given: RawTransaction = { ts: 0, status, amount };
    for (const [column, key] of Object.entries(OPTIONAL)) {
      const value = at(column) >= 0 ? cells[at(column)] : undefined;
      if (value) given[key] = value;
    }
    // The event this row becomes, checked as the bridge will check it (the
    // timestamp as written: the schema reads it, once, for both).
    const checked = transactionEventSchema.safeParse(
      rawTransactionEvent(given, rawTs, SAMPLE_TRANSACTION_ID, SAMPLE_USER_ID),
    );
    if (!checked.success) {
      const issues = checked.error.issues;
      if (issues.some((i) => i.path[0] === "timestamp")) {
        fail(line, `bad timestamp "${shownCell(rawTs)}"`);
      }
      fail(
        line,
        issues.slice(0, 3).map((i) => {
          const field = String(i.path[0] ?? "(row)");
          const cell = cellOf(cells, field);
          return `${field}${cell === undefined ? "" : ` "${shownCell(cell)}"`}: ${i.message}`;
        }).join("; "),
      );
    }
    const event = checked.data;
    const row: RawTransaction = {
      ts: Date.parse(event.timestamp),
      status: event.status,
      amount: event.amount,
    };
    // The values given, as the schema normalises them (trimmed ids, upper-case codes).
    for (const [field, key] of Object.entries(OPTIONAL)) {
      const value = event[field as keyof typeof OPTIONAL];
      if (given[key] && value) row[key] = value;
    }
    return row;
  };
}
