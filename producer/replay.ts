/**
 * Replay mode: a CSV file replayed as events.
 *
 * Three forms, told apart by the header line:
 * - `timestamp,value` (the NAB files): one metric reading per row for one
 *   service, the value in `cpu` (clamped to 0–100) or `latency_ms` (negative
 *   = 0). Only that field carries data: `cpu` is optional and left out;
 *   `latency_ms`, which every reading must have, is 0 when the value goes to
 *   `cpu` (a flat series, which nothing scores: made-up noise there raised
 *   alerts about data nobody sent). Each reading is checked with the metric
 *   schema (a latency above its bound is refused with its line): by the parse
 *   when it is told the field, else by {@link replayMessages} before it sends
 *   anything.
 * - `timestamp,status,count`: per-minute transaction counts, 0 to
 *   `MAX_MINUTE_COUNT` (replay_csv.ts) a row; each row becomes `count` transactions of
 *   that status spread evenly over the minute its time falls in (from the
 *   start of that minute, UTC: a row stamped 13:00:30 counts 13:00), each by
 *   its own user (so no per-user rule fires). They are made one at a time,
 *   never a minute's worth in memory.
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
import { sleep as sharedSleep } from "@vigil/shared/lifecycle";
import { rawTransactionEvent } from "./replay_transactions.ts";
import { normalAmount } from "./content.ts";
import { MAX_TIMER_MS } from "./waits.ts";
import {
  checkReadings,
  metricEvent,
  minuteOf,
  type ReplayRow,
  replayService,
  type StatusRow,
  type ValueRow,
} from "./replay_csv.ts";
import type { RawTransaction } from "./replay_transactions.ts";
import type { Replay } from "./replay_source.ts";
import { createPrng, type Prng, traceparent } from "./prng.ts";
import { type ProducedMessage, TRACEPARENT_HEADER } from "./scenario_types.ts";

/** Header telling consumers a message comes from a replayed file. */
export const REPLAY_HEADER = "vigil-replay";

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

/** The rows of `data` in time order, in chunks: all at once when held, else as read. */
function rowChunks(
  data: Replay,
): AsyncIterable<readonly ReplayRow[]> | Iterable<readonly ReplayRow[]> {
  return "streamed" in data ? data.rows() : [data.rows];
}

/** The messages to send, in data-time order, built lazily (a file may hold millions). */
async function* plan(data: Replay, options: ReplayOptions, rng: Prng): AsyncGenerator<Planned> {
  /** The message of `event` (built from its ISO timestamp) at data time `ts`. */
  const planned = (
    ts: number,
    topic: ProducedMessage["topic"],
    key: string,
    event: (timestamp: string) => Record<string, unknown>,
  ): Planned => ({
    ts,
    build: (eventTs) => ({
      topic,
      key,
      value: JSON.stringify(event(new Date(eventTs).toISOString())),
      headers: {
        [TRACEPARENT_HEADER]: traceparent(rng.hex(16), rng.hex(8)),
        [REPLAY_HEADER]: options.source ?? "replay",
      },
    }),
  });
  if (data.kind === "value") {
    const service = replayService(options.service ?? "replay");
    const field = options.field ?? "cpu";
    for await (const chunk of rowChunks(data)) {
      for (const row of chunk as ValueRow[]) {
        yield planned(row.ts, "metrics", service, (t) => metricEvent(row.value, field, service, t));
      }
    }
    return;
  }
  let n = 0;
  const run = rng.hex(3);
  if (data.kind === "transactions") {
    for await (const chunk of rowChunks(data)) {
      for (const row of chunk as RawTransaction[]) {
        const user = row.userId ?? `user-replay-${run}-${++n}`;
        yield planned(
          row.ts,
          "transactions",
          user,
          (t) => rawTransactionEvent(row, t, row.transactionId ?? `tx-${rng.hex(8)}`, user),
        );
      }
    }
    return;
  }
  // Rows of one minute (one per status, or several) are merged so their transactions interleave.
  let group: StatusRow[] = [];
  const spread = function* (rows: StatusRow[]): Generator<Planned> {
    for (const { row, ts } of spreadMinute(rows, minuteOf(rows[0]!.ts))) {
      const user = `user-replay-${run}-${++n}`;
      // A normal amount (drawn first), in USD, without merchant or country.
      yield planned(ts, "transactions", user, (t) => {
        const amount = normalAmount(rng);
        return rawTransactionEvent({ ts, status: row.status, amount }, t, `tx-${rng.hex(8)}`, user);
      });
    }
  };
  for await (const chunk of rowChunks(data)) {
    for (const row of chunk as StatusRow[]) {
      if (group.length > 0 && minuteOf(row.ts) !== minuteOf(group[0]!.ts)) {
        yield* spread(group);
        group = [];
      }
      group.push(row);
    }
  }
  if (group.length > 0) yield* spread(group);
}

/**
 * The transactions of the per-minute `rows` of one `minute`, in time order,
 * made one at a time (a row may count a million, a minute hold many rows):
 * a row's `i`-th of `count` is at `minute + ⌊i × 60 s / count⌋`, so all stay
 * in that minute; ties go by row order. A heap of one cursor per row merges
 * the rows.
 */
function* spreadMinute(
  rows: readonly StatusRow[],
  minute: number,
): Generator<{ row: StatusRow; ts: number }> {
  interface Cursor {
    row: StatusRow;
    order: number;
    i: number;
    ts: number;
  }
  const heap: Cursor[] = [];
  const before = (a: Cursor, b: Cursor) => a.ts < b.ts || (a.ts === b.ts && a.order < b.order);
  const swap = (x: number, y: number) => ([heap[x], heap[y]] = [heap[y]!, heap[x]!]);
  const down = (k: number) => {
    for (;;) {
      const l = 2 * k + 1;
      const r = l + 1;
      let m = k;
      if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
      if (m === k) return;
      swap(k, m);
      k = m;
    }
  };
  // Every cursor starts at the minute's start, in row order: already a heap.
  rows.forEach((row, order) => {
    if (row.count > 0) heap.push({ row, order, i: 0, ts: minute });
  });
  while (heap.length > 0) {
    const top = heap[0]!;
    yield { row: top.row, ts: top.ts };
    if (++top.i < top.row.count) {
      top.ts = minute + Math.floor((top.i * 60_000) / top.row.count);
    } else {
      heap[0] = heap.at(-1)!;
      heap.pop();
    }
    down(0);
  }
}

/** The data time of the last event `data` makes (a per-minute count spreads over its minute). */
function lastTime(data: Replay): number {
  const last = "streamed" in data ? data.last : data.rows.at(-1)!.ts;
  return data.kind === "status" ? minuteOf(last) + 59_999 : last;
}

/**
 * Replay `data` as batches of messages, each batch yielded when it is due
 * (see the module documentation for timing and timestamps). Ends early,
 * without error, when `signal` aborts. Before anything is yielded, every
 * `timestamp,value` reading is checked as the metric event it makes.
 *
 * @throws {RangeError} for a bad speed or service
 * @throws {SyntaxError} naming the line of a reading the metric schema refuses
 */
export async function* replayMessages(
  data: Replay,
  options: ReplayOptions = {},
  signal?: AbortSignal,
): AsyncGenerator<ProducedMessage[]> {
  const speed = options.speed ?? 1;
  const rng = createPrng(options.seed ?? 1);
  if (speed !== "max" && !(speed > 0)) {
    throw new RangeError(`Cannot replay: speed must be > 0 (got ${speed})`);
  }
  // Unless the parse checked the readings for this field (the producer passes it), it is
  // known only now: a reading the bridge would dead-letter stops the replay before any send.
  const field = options.field ?? "cpu";
  if (data.kind === "value" && data.checkedFor !== field) {
    if ("streamed" in data) {
      throw new RangeError(`Cannot replay: the readings were checked for ${data.checkedFor}`);
    }
    checkReadings(data.rows, field, options.service ?? "replay");
  }
  const iterator = plan(data, options, rng);
  try {
    yield* paced(iterator, data, options, signal);
  } finally {
    await iterator.return(undefined); // closes a file read as it is sent
  }
}

/** The planned messages in batches, each yielded when due. */
async function* paced(
  iterator: AsyncGenerator<Planned>,
  data: Replay,
  options: ReplayOptions,
  signal?: AbortSignal,
): AsyncGenerator<ProducedMessage[]> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? sharedSleep;
  const speed = options.speed ?? 1;
  const maxBatch = options.maxBatch ?? 500;
  let next = await iterator.next();
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
        // A timer holds at most ~24.8 days (a tiny --speed); the loop waits again for the rest.
        await sleep(Math.min(Math.ceil(wait), MAX_TIMER_MS), signal);
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
      next = await iterator.next();
    }
    if (batch.length) yield batch;
  }
}
