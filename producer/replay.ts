/**
 * Replay mode: a CSV file replayed as events.
 *
 * Two forms, told apart by the header line:
 * - `timestamp,value` (the NAB files): one metric reading per row for one
 *   service, the value in `cpu` (clamped to 0–100) or `latency_ms`. Only
 *   that field carries data: `cpu` is optional and left out; `latency_ms`,
 *   which every reading must have, is 0 when the value goes to `cpu` (a flat
 *   series, which nothing scores: made-up noise there raised alerts about
 *   data nobody sent).
 * - `timestamp,status,count`: per-minute transaction counts; each row
 *   becomes `count` transactions of that status spread evenly over its
 *   minute, each by its own user (so no per-user rule fires).
 * - raw transactions, a header with `timestamp` (or `time`), `status` and
 *   `amount` (replay_transactions.ts): one transaction per row, at its own
 *   time, with its status and amount (and its id, user, currency, merchant,
 *   country when given; otherwise a fresh user per row, USD).
 *
 * Timing: the first row is replayed now; a row `d` ms of data time after
 * the first is sent `d / speed` ms later (`speed` 60 = one minute of data
 * per second; `"max"` = no waiting). Event timestamps are, by default, the
 * data's own times shifted so that none is after the moment it is sent
 * (`timestamps: "data"`, which keeps per-minute buckets and window lengths
 * as in the file): up to speed 1 the first row is stamped now; faster, the
 * last row is stamped when it is sent and the earlier ones lie in the past.
 * Or the moment each is sent (`"emit"`, which compresses the data's time by
 * `speed`). Per-minute counts and raw transactions are shifted by whole
 * minutes, so their per-minute grouping is the file's.
 *
 * @module
 */
import { parseCsv } from "@vigil/shared/csv";
import { sleep as sharedSleep } from "@vigil/shared/lifecycle";
import {
  timestampSchema,
  TRANSACTION_STATUSES,
  type TransactionStatus,
} from "@vigil/shared/schemas/event";
import {
  isRawTransactionHeader,
  parseRawTransactions,
  type RawTransaction,
  shownCell,
} from "./replay_transactions.ts";
import {
  createPrng,
  type Prng,
  type ProducedMessage,
  traceparent,
  TRACEPARENT_HEADER,
} from "./generator.ts";

/** Header telling consumers a message comes from a replayed file. */
export const REPLAY_HEADER = "vigil-replay";

/** A parsed replay file. */
export type ReplayData =
  | { kind: "value"; rows: { ts: number; value: number }[] }
  | { kind: "status"; rows: { ts: number; status: TransactionStatus; count: number }[] }
  | { kind: "transactions"; rows: RawTransaction[] };

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
): Promise<ReplayData> {
  const text = await readTextFile(path).catch((error) => {
    throw new Error(`Cannot read replay file ${path}: ${(error as Error).message}`);
  });
  return parseReplayCsv(text);
}

/**
 * Parse a replay CSV (either form). Rows are sorted by time.
 *
 * @throws {SyntaxError} naming the line, for an unknown header or a bad row
 */
export function parseReplayCsv(text: string): ReplayData {
  const records = parseCsv(text, "Cannot parse replay file");
  if (records.length === 0) throw new SyntaxError("Cannot parse replay file: it is empty");
  const columns = records[0]!.cells.map((h) => h.toLowerCase());
  const header = columns.join(",");
  const rows: { ts: number; value: number }[] = [];
  const statusRows: { ts: number; status: TransactionStatus; count: number }[] = [];
  let kind: "value" | "status";
  if (header === "timestamp,value") kind = "value";
  else if (header === "timestamp,status,count") kind = "status";
  else if (isRawTransactionHeader(columns)) {
    return { kind: "transactions", rows: parseRawTransactions(columns, records.slice(1)) };
  } else {
    throw new SyntaxError(
      `Cannot parse replay file: header "${
        records[0]!.cells.join(",").slice(0, 60)
      }" is not "timestamp,value", "timestamp,status,count" nor raw transactions ` +
        `(timestamp,status,amount,…)`,
    );
  }
  for (const { line, cells } of records.slice(1)) {
    if (kind === "value") {
      if (cells.length !== 2) {
        throw new SyntaxError(
          `Cannot parse replay file: line ${line}: expected 2 columns, got ${cells.length}`,
        );
      }
      const value = Number(cells[1]);
      if (cells[1] === "" || !Number.isFinite(value)) {
        throw new SyntaxError(
          `Cannot parse replay file: line ${line}: value "${shownCell(cells[1]!)}" is not a number`,
        );
      }
      rows.push({ ts: parseTs(cells[0]!, line), value });
    } else {
      if (cells.length !== 3) {
        throw new SyntaxError(
          `Cannot parse replay file: line ${line}: expected 3 columns, got ${cells.length}`,
        );
      }
      const status = cells[1]!.toLowerCase();
      if (!(TRANSACTION_STATUSES as readonly string[]).includes(status)) {
        throw new SyntaxError(
          `Cannot parse replay file: line ${line}: unknown status "${shownCell(cells[1]!)}"`,
        );
      }
      const count = Number(cells[2]);
      if (!Number.isInteger(count) || count < 0) {
        throw new SyntaxError(
          `Cannot parse replay file: line ${line}: count "${
            shownCell(cells[2]!)
          }" is not a whole number ≥ 0`,
        );
      }
      statusRows.push({ ts: parseTs(cells[0]!, line), status: status as TransactionStatus, count });
    }
  }
  if (kind === "value") {
    rows.sort((a, b) => a.ts - b.ts);
    return { kind, rows };
  }
  statusRows.sort((a, b) => a.ts - b.ts);
  return { kind, rows: statusRows };
}

/** Options for {@link replayMessages}. */
export interface ReplayOptions {
  /** Data time per wall time; `"max"` sends without waiting. @default {1} */
  speed?: number | "max";
  /** Service of `timestamp,value` readings. @default {"replay"} */
  service?: string;
  /** Which metric field the value goes to. @default {"cpu"} */
  field?: "cpu" | "latency_ms";
  /** Event timestamps: the data's, shifted to no later than sent; or the send time. @default {"data"} */
  timestamps?: "data" | "emit";
  /** PRNG seed (amounts, ids, trace ids). @default {1} */
  seed?: number;
  /** Source name for the `vigil-replay` header. @default {"replay"} */
  source?: string;
  /** Most messages per yielded batch. @default {500} */
  maxBatch?: number;
  /** Clock. @default {Date.now} */
  now?: () => number;
  /** Wait (rejects when `signal` aborts). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

interface Planned {
  /** Data time, ms since epoch. */
  ts: number;
  build: (eventTs: number) => ProducedMessage;
}

/** The messages to send, in data-time order, built lazily (a file may hold millions). */
function* plan(data: ReplayData, options: ReplayOptions, rng: Prng): Generator<Planned> {
  const headers = () => ({
    [TRACEPARENT_HEADER]: traceparent(rng.hex(16), rng.hex(8)),
    [REPLAY_HEADER]: options.source ?? "replay",
  });
  if (data.kind === "value") {
    const service = options.service ?? "replay";
    const field = options.field ?? "cpu";
    for (const row of data.rows) {
      yield {
        ts: row.ts,
        build: (eventTs) => {
          const value = field === "cpu"
            ? Math.min(100, Math.max(0, row.value))
            : Math.max(0, row.value);
          const event = {
            timestamp: new Date(eventTs).toISOString(),
            service,
            ...(field === "cpu" ? { cpu: value } : {}),
            latency_ms: field === "latency_ms" ? value : 0,
          };
          return {
            topic: "metrics",
            key: service,
            value: JSON.stringify(event),
            headers: headers(),
          };
        },
      };
    }
    return;
  }
  let n = 0;
  const run = rng.hex(3);
  if (data.kind === "transactions") {
    for (const row of data.rows) {
      const user = row.userId ?? `user-replay-${run}-${++n}`;
      yield {
        ts: row.ts,
        build: (eventTs) => ({
          topic: "transactions",
          key: user,
          value: JSON.stringify({
            timestamp: new Date(eventTs).toISOString(),
            transaction_id: row.transactionId ?? `tx-${rng.hex(8)}`,
            user_id: user,
            amount: row.amount,
            currency: row.currency ?? "USD",
            status: row.status,
            ...(row.merchant ? { merchant: row.merchant } : {}),
            ...(row.country ? { country: row.country } : {}),
          }),
          headers: headers(),
        }),
      };
    }
    return;
  }
  const rows = data.rows;
  // Rows of one minute (one per status) are merged so their transactions interleave in time.
  for (let g = 0; g < rows.length;) {
    let end = g;
    while (end < rows.length && rows[end]!.ts === rows[g]!.ts) end++;
    const minute: Planned[] = [];
    for (const row of rows.slice(g, end)) {
      for (let i = 0; i < row.count; i++) {
        const user = `user-replay-${run}-${++n}`;
        minute.push({
          ts: row.ts + Math.floor((i * 60_000) / row.count),
          build: (eventTs) => {
            const amount = Math.min(2000, Math.max(1, Math.exp(Math.log(45) + rng.gaussian())));
            const event = {
              timestamp: new Date(eventTs).toISOString(),
              transaction_id: `tx-${rng.hex(8)}`,
              user_id: user,
              amount: Math.round(amount * 100) / 100,
              currency: "USD",
              status: row.status,
            };
            return {
              topic: "transactions",
              key: user,
              value: JSON.stringify(event),
              headers: headers(),
            };
          },
        });
      }
    }
    minute.sort((x, y) => x.ts - y.ts);
    yield* minute;
    g = end;
  }
}

/** The data time of the last event `data` makes (a per-minute count spreads over its minute). */
function lastTime(data: ReplayData): number {
  const last = data.rows.at(-1)!.ts;
  return data.kind === "status" ? last + 59_999 : last;
}

/**
 * Replay `data` as batches of messages, each batch yielded when it is due
 * (see the module documentation for timing and timestamps). Ends early,
 * without error, when `signal` aborts.
 */
export async function* replayMessages(
  data: ReplayData,
  options: ReplayOptions = {},
  signal?: AbortSignal,
): AsyncGenerator<ProducedMessage[]> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? sharedSleep;
  const speed = options.speed ?? 1;
  const maxBatch = options.maxBatch ?? 500;
  const rng = createPrng(options.seed ?? 1);
  if (speed !== "max" && !(speed > 0)) {
    throw new RangeError(`Cannot replay: speed must be > 0 (got ${speed})`);
  }
  const iterator = plan(data, options, rng);
  let next = iterator.next();
  if (next.done) return;
  const first = next.value.ts;
  const start = now();
  const dueAt = (ts: number) => speed === "max" ? start : start + (ts - first) / speed;
  // Data time → event time: the file's own spacing, shifted so that no event
  // is stamped after the moment it is sent (a detector takes a time ahead of
  // arrival for a wrong clock). Up to speed 1 the first row is stamped now;
  // faster, the last row is stamped when it is sent, the first `span × (1 −
  // 1/speed)` before now. Per-minute counts and raw transactions move by
  // whole minutes, so each event stays in its minute bucket, as the file
  // grouped them.
  const span = lastTime(data) - first;
  const ahead = speed === "max" ? span : Math.max(0, span * (1 - 1 / speed));
  const shift = data.kind === "value"
    ? start - first - ahead
    : Math.floor((start - first - ahead) / 60_000) * 60_000;
  while (!next.done) {
    if (signal?.aborted) return;
    const wait = dueAt(next.value.ts) - now();
    if (wait > 0) {
      try {
        await sleep(Math.ceil(wait), signal);
      } catch {
        return; // aborted
      }
    }
    // Every message due by now, up to maxBatch.
    const batch: ProducedMessage[] = [];
    const wall = now();
    while (!next.done && batch.length < maxBatch && dueAt(next.value.ts) <= wall) {
      const eventTs = (options.timestamps ?? "data") === "data" ? next.value.ts + shift : wall;
      batch.push(next.value.build(eventTs));
      next = iterator.next();
    }
    if (batch.length) yield batch;
  }
}
