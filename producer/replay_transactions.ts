/**
 * Raw transaction CSVs for replay: one row per transaction, as the
 * status-monitoring seed read them (`timestamp,status,amount,…`), beside the
 * per-minute `timestamp,status,count` rows of replay.ts.
 *
 * Columns, by header name (any order, any case): `timestamp` (or `time`),
 * `status` and `amount` are required; `transaction_id`, `user_id`,
 * `currency` (default USD), `merchant` and `country` are used when present;
 * any other column is ignored. Each row becomes one transaction event with
 * its own time, status and amount. Grouped per minute, the rows give the
 * seed's monitoring series, `perMinuteStatusCounts`: what the detector's
 * per-minute status rule (`status_zscore`) counts from the replayed events.
 *
 * @module
 */
import {
  timestampSchema,
  TRANSACTION_STATUSES,
  type TransactionStatus,
} from "@vigil/shared/schemas/event";

/** One raw transaction row. */
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

/** One per-minute count, as a `timestamp,status,count` row. */
export interface MinuteCount {
  ts: number;
  status: TransactionStatus;
  count: number;
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

function fail(line: number, what: string): never {
  throw new SyntaxError(`Cannot parse replay file: line ${line}: ${what}`);
}

/** A cell as an error message quotes it: its first 40 characters (a file may hold anything). */
export function shownCell(cell: string): string {
  return cell.length <= 40 ? cell : `${cell.slice(0, 40)}…`;
}

/**
 * Parse the data rows of a raw transaction CSV (`columns` from its header).
 * Rows come back sorted by time.
 *
 * @throws {SyntaxError} naming the line, for a bad timestamp, status or amount
 */
export function parseRawTransactions(
  columns: readonly string[],
  rows: readonly { line: number; cells: string[] }[],
): RawTransaction[] {
  const at = (name: string) => columns.indexOf(name);
  const tsCol = at("timestamp") >= 0 ? at("timestamp") : at("time");
  const statusCol = at("status");
  const amountCol = at("amount");
  const out: RawTransaction[] = [];
  for (const { line, cells } of rows) {
    if (cells.length !== columns.length) {
      fail(line, `expected ${columns.length} columns, got ${cells.length}`);
    }
    const rawTs = cells[tsCol]!;
    const ts = timestampSchema.safeParse(rawTs);
    if (!ts.success) fail(line, `bad timestamp "${shownCell(rawTs)}"`);
    const status = cells[statusCol]!.toLowerCase();
    if (!(TRANSACTION_STATUSES as readonly string[]).includes(status)) {
      fail(line, `unknown status "${shownCell(cells[statusCol]!)}"`);
    }
    const amount = Number(cells[amountCol]);
    if (cells[amountCol] === "" || !Number.isFinite(amount) || amount <= 0) {
      fail(line, `amount "${shownCell(cells[amountCol]!)}" is not a number > 0`);
    }
    const row: RawTransaction = {
      ts: Date.parse(ts.data),
      status: status as TransactionStatus,
      amount,
    };
    for (const [column, key] of Object.entries(OPTIONAL)) {
      const value = at(column) >= 0 ? cells[at(column)] : undefined;
      if (value) row[key] = value;
    }
    out.push(row);
  }
  return out.sort((a, b) => a.ts - b.ts);
}

/**
 * The rows grouped per minute (UTC, floor) and status: the series the seed
 * monitored, in the `timestamp,status,count` form, sorted by minute then
 * status order.
 */
export function perMinuteStatusCounts(rows: readonly RawTransaction[]): MinuteCount[] {
  const counts = new Map<string, MinuteCount>();
  for (const r of rows) {
    const ts = Math.floor(r.ts / 60_000) * 60_000;
    const key = `${ts}|${r.status}`;
    const c = counts.get(key);
    if (c) c.count++;
    else counts.set(key, { ts, status: r.status, count: 1 });
  }
  const order = (s: TransactionStatus) => TRANSACTION_STATUSES.indexOf(s);
  return [...counts.values()].sort((a, b) => a.ts - b.ts || order(a.status) - order(b.status));
}
