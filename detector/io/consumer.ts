/**
 * The consumer of one event stream in the detector's consumer group.
 *
 * Processing is strictly in stream order, one batch at a time, so the window
 * state is a function of "every entry up to id X": that is what makes a
 * checkpoint (state + X) exact. On start:
 *
 * 1. the handler restores its checkpoint (state as of stream id X, or none);
 * 2. the consumer re-reads its own pending entries (XREADGROUP 0) and claims
 *    the pending entries of other consumers (XAUTOCLAIM) once they have been
 *    idle for `claimIdleMs`, waiting for any that are not yet; both raise the
 *    entries' delivery counts;
 * 3. it replays the stream from X (or, without a checkpoint, from
 *    `rebuildWindowMs` before the group's cursor) to the group's
 *    last-delivered id with XRANGE: entries already acknowledged only rebuild
 *    state (their anomalies are stored), pending ones are processed for real;
 * 4. then it reads new entries (XREADGROUP >), the next batch while the
 *    current one is processed when the stream has a backlog.
 *
 * A batch is acknowledged (XACK, with its dead letters XADDed in the same
 * pipeline) only after the handler resolved, i.e. after its anomalies are
 * stored and published. Redis errors are retried with backoff, forever,
 * until `signal` aborts. An entry delivered more than `maxDeliveries` times
 * (it crashed or stalled the detector that often) is dead-lettered unprocessed.
 *
 * @module
 */
import type { Logger } from "@vigil/shared/log";
import { retrying as retryingWithBackoff, sleep } from "@vigil/shared/lifecycle";

/** A stream entry: id and flat `[field, value, …]` (null when deleted from the stream). */
export interface RawEntry {
  id: string;
  fields: string[] | null;
}

/** One entry of the pending entries list. */
export interface PendingInfo {
  id: string;
  consumer: string;
  idleMs: number;
  deliveries: number;
}

/** A dead letter to append. */
export interface DeadLetterEntry {
  id: string;
  reason: string;
  fields: string[] | null;
}

/** The Redis stream commands the consumer uses. */
export interface StreamClient {
  /** XGROUP CREATE … 0 MKSTREAM (no error when it exists). */
  createGroup(stream: string, group: string): Promise<void>;
  /** XREADGROUP GROUP g c COUNT n [BLOCK ms] STREAMS s id. */
  readGroup(
    stream: string,
    group: string,
    consumer: string,
    options: { id: string; count: number; blockMs?: number },
  ): Promise<RawEntry[]>;
  /** XAUTOCLAIM s g c minIdle start COUNT n. */
  autoclaim(
    stream: string,
    group: string,
    consumer: string,
    options: { minIdleMs: number; start: string; count: number },
  ): Promise<{ next: string; entries: RawEntry[]; deleted: string[] }>;
  /** XPENDING s g start + count (extended form). */
  pending(
    stream: string,
    group: string,
    options: { start: string; count: number },
  ): Promise<PendingInfo[]>;
  /** The group's last-delivered id (XINFO GROUPS). */
  lastDeliveredId(stream: string, group: string): Promise<string>;
  /** XRANGE s (start end COUNT n. */
  range(stream: string, afterId: string, endId: string, count: number): Promise<RawEntry[]>;
  /** XADD the dead letters to the DLQ and XACK `ids`, in one pipeline. */
  ack(
    stream: string,
    group: string,
    ids: readonly string[],
    dead: readonly DeadLetterEntry[],
  ): Promise<void>;
}

/** One entry handed to the handler. */
export interface Delivery {
  id: string;
  fields: string[];
  /** false: already acknowledged, replayed to rebuild state only (emit nothing). */
  live: boolean;
  /** Times delivered (0 for replayed acknowledged entries). */
  deliveries: number;
}

/** What the consumer drives. */
export interface BatchHandler {
  /** Restore the checkpoint; returns the last stream id it covers, or null. */
  restore(): Promise<string | null>;
  /**
   * Process a batch in stream order and store its effects; resolves only when
   * they are durable (retrying internally). Returns dead letters for live entries.
   */
  process(
    batch: readonly Delivery[],
    signal: AbortSignal,
  ): Promise<{ id: string; reason: string }[]>;
  /** Every entry up to `lastId` is acknowledged (checkpoint opportunity; `force` after dead letters). */
  committed(lastId: string, force: boolean): Promise<void>;
  /** The stream has nothing new right now (a checkpoint postponed by the interval can be written). */
  idle?(): Promise<void>;
}

/** Options of {@link createConsumer}. */
export interface ConsumerOptions {
  client: StreamClient;
  stream: string;
  group: string;
  consumer: string;
  handler: BatchHandler;
  log: Logger;
  /** @default {1000} */
  batchSize?: number;
  /** @default {1000} */
  blockMs?: number;
  /** @default {30000} */
  claimIdleMs?: number;
  /** @default {5} */
  maxDeliveries?: number;
  /** @default {600000} */
  rebuildWindowMs?: number;
  /** Called after each acknowledged batch (metrics). */
  onAck?: (info: { live: number; dead: number }) => void;
}

/** A running stream consumer. */
export interface Consumer {
  /** Run until `signal` aborts (resolves) or a non-retryable error (rejects). */
  run(signal: AbortSignal): Promise<void>;
}

/** Compare two stream ids numerically. */
export function compareIds(a: string, b: string): number {
  const [am, as = "0"] = a.split("-");
  const [bm, bs = "0"] = b.split("-");
  const d = Number(am) - Number(bm);
  return d !== 0 ? Math.sign(d) : Math.sign(Number(as) - Number(bs));
}

/** Create the consumer of one stream. */
export function createConsumer(options: ConsumerOptions): Consumer {
  const { client, stream, group, consumer, handler } = options;
  const log = options.log.with({ stream, group, consumer });
  const batchSize = options.batchSize ?? 1000;
  const blockMs = options.blockMs ?? 1000;
  const claimIdleMs = options.claimIdleMs ?? 30_000;
  const maxDeliveries = options.maxDeliveries ?? 5;
  const rebuildWindowMs = options.rebuildWindowMs ?? 600_000;

  const retrying = <T>(what: string, fn: () => Promise<T>, signal: AbortSignal): Promise<T> =>
    retryingWithBackoff(what, fn, { signal, log, baseMs: 100, capMs: 5000 });

  async function handle(batch: Delivery[], signal: AbortSignal): Promise<void> {
    if (batch.length === 0) return;
    const dead: DeadLetterEntry[] = [];
    const work: Delivery[] = [];
    for (const d of batch) {
      if (d.live && d.deliveries > maxDeliveries) {
        dead.push({
          id: d.id,
          fields: d.fields,
          reason:
            `delivered ${d.deliveries} times without being acknowledged (more than ${maxDeliveries}): the detector failed or crashed while processing it`,
        });
      } else work.push(d);
    }
    const failed = await handler.process(work, signal);
    const byId = new Map(batch.map((d) => [d.id, d]));
    for (const f of failed) {
      dead.push({ id: f.id, reason: f.reason, fields: byId.get(f.id)?.fields ?? null });
    }
    const live = batch.filter((d) => d.live).map((d) => d.id);
    if (live.length > 0 || dead.length > 0) {
      await retrying("acknowledge entries", () => client.ack(stream, group, live, dead), signal);
    }
    if (dead.length > 0) log.warn("entries dead-lettered", { count: dead.length, first: dead[0] });
    options.onAck?.({ live: live.length, dead: dead.length });
    await handler.committed(batch[batch.length - 1]!.id, dead.length > 0);
  }

  async function recover(checkpoint: string | null, signal: AbortSignal): Promise<void> {
    // 1. Our own pending entries (after a restart under the same consumer name).
    let cursor = "0";
    for (;;) {
      const own = await retrying(
        "read own pending entries",
        () => client.readGroup(stream, group, consumer, { id: cursor, count: batchSize }),
        signal,
      );
      if (own.length === 0) break;
      cursor = own[own.length - 1]!.id;
    }
    // 2. Pending entries of other (dead) consumers, once idle long enough.
    for (;;) {
      let start = "0-0";
      do {
        const r = await retrying(
          "claim pending entries",
          () =>
            client.autoclaim(stream, group, consumer, {
              minIdleMs: claimIdleMs,
              start,
              count: batchSize,
            }),
          signal,
        );
        if (r.entries.length > 0) log.info("claimed pending entries", { count: r.entries.length });
        start = r.next;
      } while (start !== "0-0");
      const others = (await allPending(signal)).filter((p) => p.consumer !== consumer);
      if (others.length === 0) break;
      const wait = Math.max(
        100,
        Math.min(1000, claimIdleMs - Math.max(...others.map((p) => p.idleMs))),
      );
      log.info("waiting for pending entries of other consumers to become claimable", {
        count: others.length,
        consumers: [...new Set(others.map((p) => p.consumer))].slice(0, 5),
        claim_idle_ms: claimIdleMs,
      });
      await sleep(wait, signal);
    }
    // 3. Replay from the checkpoint (or the rebuild window) to the group's cursor.
    const pel = new Map((await allPending(signal)).map((p) => [p.id, p.deliveries]));
    const end = await retrying(
      "read group info",
      () => client.lastDeliveredId(stream, group),
      signal,
    );
    let from = checkpoint ?? rebuildStart(end);
    for (const id of pel.keys()) {
      if (checkpoint === null && compareIds(id, from) <= 0) from = previousId(id);
    }
    let replayed = 0, redelivered = 0;
    const seen = new Set<string>();
    if (compareIds(end, from) > 0) {
      log.info("replaying stream", {
        from,
        to: end,
        checkpoint: checkpoint !== null,
        pending: pel.size,
      });
      for (let after = from;;) {
        const entries = await retrying(
          "read stream range",
          () => client.range(stream, after, end, batchSize),
          signal,
        );
        if (entries.length === 0) break;
        const batch: Delivery[] = [];
        for (const e of entries) {
          if (e.fields === null) continue;
          const deliveries = pel.get(e.id);
          seen.add(e.id);
          batch.push({
            id: e.id,
            fields: e.fields,
            live: deliveries !== undefined,
            deliveries: deliveries ?? 0,
          });
          if (deliveries !== undefined) redelivered++;
          else replayed++;
        }
        await handle(batch, signal);
        after = entries[entries.length - 1]!.id;
        if (compareIds(after, end) >= 0) break;
      }
    }
    // Pending entries not replayed are covered by the checkpoint or gone from the stream.
    const leftover = [...pel.keys()].filter((id) => !seen.has(id));
    if (leftover.length > 0) {
      await retrying(
        "acknowledge covered entries",
        () => client.ack(stream, group, leftover, []),
        signal,
      );
    }
    log.info("recovered", { replayed, redelivered, acknowledged_covered: leftover.length });
  }

  async function allPending(signal: AbortSignal): Promise<PendingInfo[]> {
    const out: PendingInfo[] = [];
    let start = "-";
    for (;;) {
      const page = await retrying(
        "read pending entries",
        () => client.pending(stream, group, { start, count: 1000 }),
        signal,
      );
      out.push(...page);
      if (page.length < 1000) return out;
      start = `(${page[page.length - 1]!.id}`;
    }
  }

  function rebuildStart(end: string): string {
    const ms = Number(end.split("-")[0]);
    return ms <= rebuildWindowMs ? "0-0" : `${ms - rebuildWindowMs}-0`;
  }

  return {
    async run(signal) {
      try {
        await retrying("create consumer group", () => client.createGroup(stream, group), signal);
        const checkpoint = await handler.restore();
        await recover(checkpoint, signal);
        // While a batch is processed, the next one is already being read (one
        // XREADGROUP ahead, without BLOCK): Redis and the network work while
        // the rules do. A prefetched batch is pending in the group like any
        // delivered entry, so a crash before it is processed loses nothing.
        let prefetched: Promise<RawEntry[]> | null = null;
        while (!signal.aborted) {
          const entries: RawEntry[] = await (prefetched ?? retrying(
            "read new entries",
            () => client.readGroup(stream, group, consumer, { id: ">", count: batchSize, blockMs }),
            signal,
          ));
          prefetched = null;
          const batch: Delivery[] = [];
          for (const e of entries) {
            if (e.fields !== null) {
              batch.push({ id: e.id, fields: e.fields, live: true, deliveries: 1 });
            }
          }
          if (entries.length === batchSize) {
            prefetched = retrying(
              "read new entries",
              (): Promise<RawEntry[]> =>
                client.readGroup(stream, group, consumer, { id: ">", count: batchSize }),
              signal,
            );
            prefetched.catch(() => {}); // awaited (and rethrown) at the top of the loop
          }
          if (batch.length > 0) await handle(batch, signal);
          else if (entries.length === 0) await handler.idle?.();
        }
        // Stopping: a batch read ahead is already delivered to this consumer.
        // Process it now (one attempt per step, like the batch in hand) rather
        // than leave it pending until another consumer claims it.
        if (prefetched) {
          const entries = await prefetched.catch((): RawEntry[] => []);
          const batch: Delivery[] = [];
          for (const e of entries) {
            if (e.fields !== null) {
              batch.push({ id: e.id, fields: e.fields, live: true, deliveries: 1 });
            }
          }
          if (batch.length > 0) await handle(batch, signal);
        }
      } catch (error) {
        if (signal.aborted) return;
        throw error;
      }
    },
  };
}

/** The id just before `id` (for an exclusive range start). */
function previousId(id: string): string {
  const [ms, seq = "0"] = id.split("-");
  if (Number(seq) > 0) return `${ms}-${Number(seq) - 1}`;
  return Number(ms) > 0 ? `${Number(ms) - 1}-${Number.MAX_SAFE_INTEGER}` : "0-0";
}
