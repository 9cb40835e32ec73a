/**
 * Start-up of a {@link createStreamConsumer} consumer: claiming what other
 * consumers left pending, replaying the stream from a checkpoint, re-reading
 * this consumer's own pending entries.
 *
 * @module
 */
import type { Logger } from "./log.ts";
import { sleep } from "./lifecycle.ts";
import type { Delivery } from "./stream_consumer.ts";
import {
  compareIds,
  type PendingInfo,
  previousId,
  type RawEntry,
  type StreamPort,
} from "./stream_port.ts";

/** What the recovery steps need from their consumer. */
export interface RecoveryContext {
  port: StreamPort;
  stream: string;
  group: string;
  consumer: string;
  batchSize: number;
  claimIdleMs: number;
  rebuildWindowMs: number;
  log: Logger;
  /** Run a Redis call, retrying until it succeeds or `signal` aborts. */
  redis<T>(what: string, fn: () => Promise<T>, signal: AbortSignal): Promise<T>;
  /** Process and acknowledge a batch. */
  handle(batch: Delivery[], signal: AbortSignal): Promise<void>;
  /** Record progress (waiting on purpose is not being stuck). */
  progressed(): void;
}

/** Live deliveries of the entries still in the stream. */
export function live(entries: readonly RawEntry[], deliveries: (id: string) => number): Delivery[] {
  const out: Delivery[] = [];
  for (const e of entries) {
    if (e.fields !== null) {
      out.push({ id: e.id, fields: e.fields, live: true, deliveries: deliveries(e.id) });
    }
  }
  return out;
}

/** The recovery steps bound to one consumer. */
export function createRecovery(ctx: RecoveryContext) {
  const { port, stream, group, consumer, batchSize, claimIdleMs, rebuildWindowMs, log } = ctx;
  const { redis, handle, progressed } = ctx;
  const pending = (options: Parameters<StreamPort["pending"]>[2], signal: AbortSignal) =>
    redis("read pending entries", () => port.pending(stream, group, options), signal);
  /** This consumer's pending entries after `id` ("0": from the first). */
  const readOwn = (id: string, signal: AbortSignal) =>
    redis(
      "read own pending entries",
      () => port.readGroup(stream, group, consumer, { id, count: batchSize }),
      signal,
    );

  async function allPending(signal: AbortSignal): Promise<PendingInfo[]> {
    const out: PendingInfo[] = [];
    let start = "-";
    for (;;) {
      const page = await pending({ start, count: 1000 }, signal);
      out.push(...page);
      if (page.length < 1000) return out;
      start = `(${page[page.length - 1]!.id}`;
    }
  }

  /** Delivery counts of this consumer's pending entries from `first` to `last`. */
  async function counts(first: string, last: string, n: number, signal: AbortSignal) {
    const page = await pending({ start: first, end: last, count: n, consumer }, signal);
    return new Map(page.map((p) => [p.id, p.deliveries]));
  }

  /** Claim others' idle pending entries; `wait` (ordered): until none is left to claim. */
  async function claimOthers(signal: AbortSignal, wait: boolean): Promise<Delivery[]> {
    const claimed: Delivery[] = [];
    for (;;) {
      let start = "0-0";
      do {
        const r = await redis(
          "claim pending entries",
          () =>
            port.autoclaim(stream, group, consumer, {
              minIdleMs: claimIdleMs,
              start,
              count: batchSize,
            }),
          signal,
        );
        const got = r.entries;
        if (got.length > 0) {
          log.info("claimed pending entries", { count: got.length });
          if (!wait) {
            const n = await counts(got[0]!.id, got[got.length - 1]!.id, got.length, signal);
            claimed.push(...live(got, (id) => n.get(id) ?? 1));
          }
        }
        start = r.next;
      } while (start !== "0-0");
      if (!wait) return claimed;
      const others = (await allPending(signal)).filter((p) => p.consumer !== consumer);
      if (others.length === 0) return claimed;
      log.info("waiting for pending entries of other consumers to become claimable", {
        count: others.length,
        consumers: [...new Set(others.map((p) => p.consumer))].slice(0, 5),
        claim_idle_ms: claimIdleMs,
      });
      progressed(); // waiting on purpose is not being stuck
      await sleep(
        Math.max(100, Math.min(1000, claimIdleMs - Math.max(...others.map((p) => p.idleMs)))),
        signal,
      );
    }
  }

  /**
   * Re-read own pending entries (before claiming others'): that counts this
   * start as one more delivery of each, so an entry that crashes the consumer
   * every time is dead-lettered after `maxDeliveries` starts.
   */
  async function countRestart(signal: AbortSignal): Promise<void> {
    for (let cursor = "0";;) {
      const own = await readOwn(cursor, signal);
      if (own.length === 0) return;
      cursor = own[own.length - 1]!.id;
    }
  }

  /** Replay from `checkpoint` (or the rebuild window) to the group's last-delivered id. */
  async function replay(checkpoint: string | null, signal: AbortSignal): Promise<void> {
    // The cursor first: an entry delivered after it (to a stale instance of the same consumer
    // name) is past `end`, left to the reads that follow, not replayed as acknowledged.
    const end = await redis("read group info", () => port.lastDeliveredId(stream, group), signal);
    const pel = new Map((await allPending(signal)).map((p) => [p.id, p.deliveries]));
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
        const entries = await redis(
          "read stream range",
          () => port.range(stream, after, end, batchSize),
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
    const leftover = [...pel.keys()].filter((id) => !seen.has(id) && compareIds(id, end) <= 0);
    if (leftover.length > 0) {
      await redis(
        "acknowledge covered entries",
        () => port.ack(stream, group, leftover, []),
        signal,
      );
    }
    log.info("recovered", { replayed, redelivered, acknowledged_covered: leftover.length });
  }

  /** Re-read and process this consumer's own pending entries. */
  async function ownPending(signal: AbortSignal): Promise<void> {
    let cursor = "0";
    for (;;) {
      const entries = await readOwn(cursor, signal);
      if (entries.length === 0) return;
      const last = entries[entries.length - 1]!.id;
      const n = await counts(entries[0]!.id, last, entries.length, signal);
      await handle(live(entries, (id) => n.get(id) ?? 1), signal);
      // Entries deleted from the stream stay pending: acknowledge them, nothing to process.
      const gone = entries.filter((e) => e.fields === null).map((e) => e.id);
      if (gone.length > 0) {
        await redis("acknowledge deleted entries", () => port.ack(stream, group, gone, []), signal);
      }
      cursor = last;
    }
  }

  /**
   * `entries` just read (XREADGROUP >) preceded by this consumer's pending entries after `after`,
   * the newest it received: entries Redis delivered to it by a read whose reply never arrived (a
   * connection reset, ioredis re-sending the read on reconnect, a retried read). Left alone they
   * stay pending for nobody until a restart, whose replay acknowledges them unprocessed once the
   * checkpoint has moved past them. In stream order; at most `batchSize` (the rest of `entries`
   * stays pending after them and is found by the next call).
   */
  async function withUnreceived(
    after: string,
    entries: RawEntry[],
    signal: AbortSignal,
  ): Promise<RawEntry[]> {
    const end = entries.length > 0 ? previousId(entries[0]!.id) : "+";
    if (end !== "+" && compareIds(end, after) <= 0) return entries;
    const missed = await pending({ start: `(${after}`, end, count: 1, consumer }, signal);
    if (missed.length === 0) return entries;
    log.warn(
      "entries delivered to this consumer were never received (a reply lost): reading them",
      { first: missed[0]!.id },
    );
    return await readOwn(after, signal);
  }

  function rebuildStart(end: string): string {
    const ms = Number(end.split("-")[0]);
    return ms <= rebuildWindowMs ? "0-0" : `${ms - rebuildWindowMs}-0`;
  }

  return { claimOthers, countRestart, replay, ownPending, withUnreceived };
}
