/**
 * Opening a replay file (replay.ts) without holding its text: it is read in
 * chunks and parsed record by record, so its memory does not grow with its
 * size (the whole text and its cells were ~15× the file: 4 GB for 200 MB),
 * and the event loop turns between chunks (Ctrl-C, timers).
 *
 * A regular file is read twice. First through, before anything is sent
 * (before Kafka is contacted), every row is parsed and checked, and the
 * file's last time noted (the replay's stamping needs it) and its rows counted;
 * then the replay reads it again as it sends, row by row. A file whose rows
 * are not in time order cannot be sent as it is read: its rows (parsed, not
 * its text) are then held and sorted, as are those of standard input (`-`)
 * and of a pipe, which can be read only once.
 *
 * @module
 */
import { type CsvRecord, readCsv } from "@vigil/shared/csv";
import type { RawTransaction } from "./replay_transactions.ts";
import {
  emptyError,
  heldReplay,
  minuteOf,
  noRowsError,
  type ReplayData,
  type ReplayParseOptions,
  type ReplayRow,
  replayRowParser,
} from "./replay_csv.ts";

/** A replay read from its file as it is sent (a regular file, its rows in time order). */
export interface ReplayStream {
  kind: ReplayData["kind"];
  streamed: true;
  /** Data time of the last row (the stamping needs it). */
  last: number;
  /** The metric field the readings were checked for. */
  checkedFor: "cpu" | "latency_ms";
  /** Raw transactions: what the start log line says of them. */
  transactions: TransactionsSummary;
  /** The rows again, from the file, in chunks as read. */
  rows(): AsyncIterable<readonly ReplayRow[]>;
}

/** A replay: its rows held (a parsed text, standard input, a pipe, an unsorted file) or streamed. */
export type Replay = ReplayData | ReplayStream;

/** How a replay file is opened. */
export interface OpenReplayOptions extends ReplayParseOptions {
  field: "cpu" | "latency_ms";
  /** Stops the reading (an AbortError, or the signal's reason). */
  signal?: AbortSignal;
  /** What `-` reads. @default Deno.stdin.readable */
  stdin?: () => ReadableStream<Uint8Array>;
}

const WHAT = "Cannot parse replay file";

/** The records of `path` (`-`: standard input), the file's read errors named with it. */
async function* records(
  path: string,
  options: Pick<OpenReplayOptions, "signal" | "stdin">,
): AsyncGenerator<CsvRecord[]> {
  const signal = options.signal;
  try {
    let stream = path === "-"
      ? (options.stdin ?? (() => Deno.stdin.readable))()
      : (await Deno.open(path)).readable;
    // Aborted, a read waiting on an idle input (a pipe, a terminal) ends at once.
    if (signal) stream = stream.pipeThrough(new TransformStream(), { signal });
    for await (const batch of readCsv(stream, WHAT)) {
      signal?.throwIfAborted();
      yield batch;
    }
  } catch (error) {
    if (error instanceof SyntaxError || signal?.aborted) throw error;
    throw new Error(`Cannot read replay file ${path}: ${(error as Error).message}`);
  }
}

/**
 * Read and check the replay file at `path` (`-`: standard input), before
 * anything is sent: a missing file or a bad row is reported before Kafka is
 * even contacted. See the module documentation for what is held.
 *
 * @throws {Error} naming the file when it cannot be read
 * @throws {SyntaxError} naming the line, for an unknown header or a bad row
 * @throws {RangeError} for a bad `options.service`
 */
export async function openReplay(path: string, options: OpenReplayOptions): Promise<Replay> {
  let regular = false;
  if (path !== "-") {
    const info = await Deno.stat(path).catch((error) => {
      throw new Error(`Cannot read replay file ${path}: ${(error as Error).message}`);
    });
    if (info.isDirectory) throw new Error(`Cannot read replay file ${path}: it is a directory`);
    regular = info.isFile;
  }
  return (regular && await read(path, options, false)) || (await read(path, options, true))!;
}

/**
 * Every row of the file, parsed and checked. `held`: the rows, sorted by time (stable: ties
 * keep the file's order). Else the first pass over a regular file: its last time noted, its
 * rows counted for the second; undefined when they are not in time order (held instead).
 */
async function read(
  path: string,
  options: OpenReplayOptions,
  held: boolean,
): Promise<Replay | undefined> {
  let parser: ReturnType<typeof replayRowParser> | undefined;
  let header: CsvRecord | undefined;
  const rows: ReplayRow[] = [];
  let count = 0;
  let last = -Infinity;
  const transactions = countTransactions();
  for await (const batch of records(path, options)) {
    for (const record of batch) {
      if (!parser) {
        parser = replayRowParser(header = record, options);
        continue;
      }
      const row = parser.parse(record);
      if (held) rows.push(row);
      else if (row.ts < last) return undefined; // not in time order: hold and sort
      count++;
      if (parser.kind === "transactions") transactions.add(row as RawTransaction);
      last = row.ts;
    }
  }
  if (!parser || !header) throw emptyError();
  if (count === 0) throw noRowsError(header);
  const kind = parser.kind;
  if (held) return heldReplay(kind, rows.sort((a, b) => a.ts - b.ts), options.field);
  return {
    kind,
    streamed: true,
    last,
    checkedFor: options.field,
    transactions: transactions.summary(),
    rows: () => reread(path, options, kind, count, last),
  };
}

/** The rows of `path` again, as the first pass found them (else it changed since: an error). */
async function* reread(
  path: string,
  options: OpenReplayOptions,
  kind: ReplayData["kind"],
  count: number,
  lastChecked: number,
): AsyncGenerator<ReplayRow[]> {
  const changed = (what: string) =>
    new Error(`Cannot replay ${path}: the file changed while it was replayed (${what})`);
  let parser: ReturnType<typeof replayRowParser> | undefined;
  let last = -Infinity;
  let n = 0;
  try {
    // No signal: the replay stops by itself when aborted, and closes this reading.
    for await (const batch of records(path, {})) {
      const rows: ReplayRow[] = [];
      for (const record of batch) {
        if (!parser) {
          parser = replayRowParser(record, options);
          if (parser.kind !== kind) throw changed("another header");
          continue;
        }
        const row = parser.parse(record);
        if (row.ts < last) throw changed(`line ${record.line} is out of time order`);
        // Rows appended since the check are not sent: the stamping took the checked last time.
        if (++n > count) throw changed(`more than ${count} rows`);
        if (row.ts > lastChecked) throw changed(`line ${record.line} is after the last time`);
        last = row.ts;
        rows.push(row);
      }
      if (rows.length > 0) yield rows;
    }
  } catch (error) {
    throw error instanceof SyntaxError ? changed(error.message) : error;
  }
  if (n !== count) throw changed(`${n} rows, not ${count}`);
}

/** What the start log line says of a replay of raw transactions. */
export type TransactionsSummary = {
  transactions: number;
  /** Minutes (UTC) the transactions fall in. */
  minutes: number;
  by_status: Record<string, number>;
};

/** A {@link TransactionsSummary} counted row by row, the rows in time order. */
function countTransactions() {
  const summary: TransactionsSummary = { transactions: 0, minutes: 0, by_status: {} };
  let last = -Infinity;
  return {
    add(row: RawTransaction) {
      summary.transactions++;
      if (minuteOf(row.ts) !== minuteOf(last)) summary.minutes++;
      last = row.ts;
      summary.by_status[row.status] = (summary.by_status[row.status] ?? 0) + 1;
    },
    summary: () => summary,
  };
}

/** What the start log line says of a replay of raw transactions. */
export function transactionsSummary(data: Replay): TransactionsSummary {
  if ("streamed" in data) return data.transactions;
  const counted = countTransactions();
  for (const row of data.rows as RawTransaction[]) counted.add(row);
  return counted.summary();
}
