/**
 * The one Redis Streams consumer of Vigil (detector and notifier), in a
 * consumer group, behind the narrow {@link StreamPort}:
 *
 * 1. on start: create the group; let the handler restore its state; claim
 *    the pending entries other consumers left idle for `claimIdleMs`
 *    (XAUTOCLAIM); then either
 *    - **replay** (a handler with `restore`, e.g. the detector's windows):
 *      read the stream from the handler's checkpoint (or `rebuildWindowMs`
 *      back) to the group's last-delivered id with XRANGE; acknowledged
 *      entries only rebuild state (`live: false`), pending ones are processed
 *      for real; or
 *    - re-read this consumer's own pending entries (XREADGROUP 0) and process
 *      them (the handler skips what it already stored);
 * 2. then read new entries (XREADGROUP >), the next batch while the current
 *    one is processed when the stream has a backlog.
 *
 * Every batch is acknowledged (XACK, its dead letters XADDed first) only
 * after the handler resolved, i.e. after its effects are stored. Redis
 * errors are retried with backoff until `signal` aborts. An entry delivered
 * more than `maxDeliveries` times (it crashed or stalled a consumer that
 * often) is dead-lettered unprocessed.
 *
 * A batch whose processing fails: with a re-runnable handler (`rerunnable`,
 * its `process` has no effect before it resolves) a transient error is
 * retried forever; a permanent one (`isPermanent`) `maxAttempts` times, then
 * the batch is split in halves until the entries that fail alone are found,
 * and those are dead-lettered with the error while the rest go on. A handler
 * that is not re-runnable must settle its own failures (the detector does);
 * an error it throws stops the consumer.
 *
 * @module
 */
import { errorMessage, type Logger } from "./log.ts";
import { logRetry, retry } from "./retry.ts";
import type { DeadLetterEntry, RawEntry, StreamPort } from "./stream_port.ts";
import { createRecovery, live } from "./stream_recovery.ts";

/** One entry handed to the handler. */
export interface Delivery {
  id: string;
  fields: string[];
  /** false: already acknowledged, replayed to rebuild state only (emit nothing). */
  live: boolean;
  /** Times delivered (0 for replayed acknowledged entries). */
  deliveries: number;
}

/** A live entry the handler could not process, with the reason. */
export interface Rejected {
  id: string;
  reason: string;
}

/** What the consumer drives. */
export interface BatchHandler {
  /**
   * Restore saved state; return the last stream id it covers (null: none).
   * Handlers with `restore` get the stream replayed from there at start.
   */
  restore?(): Promise<string | null>;
  /**
   * Process a batch in stream order and store its effects; resolve only when
   * they are durable. Returns the live entries to dead-letter.
   */
  process(batch: readonly Delivery[], signal: AbortSignal): Promise<Rejected[]>;
  /** Every entry up to `lastId` is acknowledged (`force`: dead letters were written). */
  committed?(lastId: string, force: boolean): Promise<void>;
  /** Nothing new right now. */
  idle?(): Promise<void>;
}

/** Options of {@link createStreamConsumer}. */
export interface StreamConsumerOptions {
  port: StreamPort;
  stream: string;
  group: string;
  consumer: string;
  handler: BatchHandler;
  log: Logger;
  /** Entries per read. @default {1000} */
  batchSize?: number;
  /** XREADGROUP BLOCK. @default {1000} */
  blockMs?: number;
  /** Others' pending entries idle this long are claimed. @default {30000} */
  claimIdleMs?: number;
  /**
   * Entries must be processed in stream order (the detector): at start, wait
   * until others' pending entries are claimable; never claim later.
   * @default {false}
   */
  ordered?: boolean;
  /**
   * Awaited before each read of new entries; throws when this consumer may
   * read no more (the detector's lease lost): a read issued after another
   * owner took over would leave entries pending that nobody processes.
   */
  beforeRead?: (signal: AbortSignal) => Promise<void>;
  /** An entry delivered more often is dead-lettered unprocessed. @default {5} */
  maxDeliveries?: number;
  /** Without a checkpoint, replay this far back before the group's cursor. @default {600000} */
  rebuildWindowMs?: number;
  /** `process` may be called again for the same batch (see the module doc). @default {false} */
  rerunnable?: boolean;
  /** Errors that will fail again however often retried. @default none */
  isPermanent?: (error: unknown) => boolean;
  /** Attempts of a batch failing with a permanent error before it is split. @default {3} */
  maxAttempts?: number;
  /** Backoff of retried Redis calls and batches. @default {{ baseMs: 100, capMs: 5000 }} */
  backoff?: { baseMs: number; capMs: number };
  /** No progress for this long with work pending = stuck (health). @default {60000} */
  stuckAfterMs?: number;
  /**
   * Called after each acknowledged batch: entries acknowledged, and entries
   * dead-lettered because delivered too often, refused for good (found by
   * splitting), or rejected by the handler.
   */
  onAck?: (
    info: { live: number; dead: number; maxDeliveries: number; refused: number; rejected: number },
  ) => void;
  now?: () => number;
}

/** What health checks read. */
export interface ConsumerStatus {
  /** Consuming (recovered, reading new entries). */
  running: boolean;
  /** No progress for `stuckAfterMs` while a batch is in hand or reads fail. */
  stuck: boolean;
  /** For /health: "ok", "starting", or "stuck: no progress for N s (the last error retried)". */
  detail: string;
}

/** A running stream consumer. */
export interface StreamConsumer {
  /** Run until `signal` aborts (resolves) or a non-retryable error (rejects). */
  run(signal: AbortSignal): Promise<void>;
  status(): ConsumerStatus;
}

/** Create the consumer of one stream. */
export function createStreamConsumer(options: StreamConsumerOptions): StreamConsumer {
  const { port, stream, group, consumer, handler } = options;
  const log = options.log.with({ stream, group, consumer });
  const batchSize = options.batchSize ?? 1000;
  const blockMs = options.blockMs ?? 1000;
  const claimIdleMs = options.claimIdleMs ?? 30_000;
  const maxDeliveries = options.maxDeliveries ?? 5;
  const rebuildWindowMs = options.rebuildWindowMs ?? 600_000;
  const maxAttempts = options.maxAttempts ?? 3;
  const backoff = options.backoff ?? { baseMs: 100, capMs: 5000 };
  const stuckAfterMs = options.stuckAfterMs ?? 60_000;
  const isPermanent = options.isPermanent ?? (() => false);
  const now = options.now ?? Date.now;
  let running = false;
  let progressAt = now();
  let busy = false;
  let lastError: string | null = null;
  /** Entries of the batch in hand refused for good (found by splitting). */
  let refused = 0;

  const progressed = () => {
    progressAt = now();
    lastError = null;
  };
  const redis = <T>(what: string, fn: () => Promise<T>, signal: AbortSignal): Promise<T> => {
    const logRedisRetry = logRetry(log, what);
    return retry(() =>
      fn().catch(async (error) => {
        // Redis came back without our data (restarted without persistence): recreate the group.
        if (/NOGROUP/.test(errorMessage(error))) {
          await port.createGroup(stream, group).catch(() => {});
        }
        throw error;
      }), {
      signal,
      ...backoff,
      onRetry: (info) => {
        lastError = `cannot ${what}: ${errorMessage(info.error)}`;
        logRedisRetry(info);
      },
    });
  };

  /** Process `batch` (re-runnable handlers: retry, split, dead-letter what fails alone). */
  async function processBatch(
    batch: readonly Delivery[],
    signal: AbortSignal,
  ): Promise<Rejected[]> {
    if (!options.rerunnable) return await handler.process(batch, signal);
    let attempts = 0;
    // One retry loop: its first three failures at warn, then one a minute (an outage of
    // PostgreSQL retried every 5 s would otherwise write 12 warnings a minute).
    const logBatchRetry = logRetry(log, "process batch", undefined, {
      now,
      fields: ({ error }) => ({ permanent: isPermanent(error) }),
    });
    try {
      return await retry((attempt) => {
        attempts = attempt;
        return handler.process(batch, signal);
      }, {
        signal,
        // The wait after failed attempt n is base·2^n, capped, without jitter.
        baseMs: Math.min(backoff.baseMs * 2, backoff.capMs),
        capMs: backoff.capMs,
        jitter: false,
        isRetryable: (error) => {
          lastError = errorMessage(error);
          return !(isPermanent(error) && attempts >= maxAttempts);
        },
        onRetry: logBatchRetry,
      });
    } catch (error) {
      if (signal.aborted) throw error;
      // Permanent, `maxAttempts` times: dead-letter a lone entry, else split the batch.
      const liveEntries = batch.filter((d) => d.live);
      if (liveEntries.length <= 1) {
        log.error("entry fails permanently, dead-lettering it", {
          stream_id: liveEntries[0]?.id,
          error,
        });
        refused += liveEntries.length;
        return liveEntries.map((d) => ({
          id: d.id,
          reason: `processing failed ${attempts} times: ${errorMessage(error)}`.slice(0, 1000),
        }));
      }
      const half = Math.ceil(batch.length / 2);
      log.warn("batch fails permanently, splitting it to find the entries at fault", {
        entries: batch.length,
        error,
      });
      return [
        ...await processBatch(batch.slice(0, half), signal),
        ...await processBatch(batch.slice(half), signal),
      ];
    }
  }

  async function handle(batch: Delivery[], signal: AbortSignal): Promise<void> {
    if (batch.length === 0) return;
    busy = true;
    refused = 0;
    const dead: DeadLetterEntry[] = [];
    const work: Delivery[] = [];
    for (const d of batch) {
      if (d.live && d.deliveries > maxDeliveries) {
        dead.push({
          id: d.id,
          fields: d.fields,
          reason:
            `delivered ${d.deliveries} times without being acknowledged (more than ${maxDeliveries}): a consumer failed or crashed while processing it`,
        });
      } else work.push(d);
    }
    const tooOften = dead.length;
    const rejected = work.length > 0 ? await processBatch(work, signal) : [];
    if (rejected.length > 0) {
      const byId = new Map(batch.map((d) => [d.id, d]));
      for (const r of rejected) {
        dead.push({ id: r.id, reason: r.reason, fields: byId.get(r.id)?.fields ?? null });
      }
    }
    const deadIds = dead.length > 0 ? new Set(dead.map((d) => d.id)) : undefined;
    const ack: string[] = [];
    for (const d of batch) if (d.live && !deadIds?.has(d.id)) ack.push(d.id);
    if (ack.length > 0 || dead.length > 0) {
      await redis("acknowledge entries", () => port.ack(stream, group, ack, dead), signal);
    }
    busy = false;
    progressed();
    if (dead.length > 0) {
      log.warn("entries dead-lettered", { count: dead.length, first: dead[0] });
    }
    options.onAck?.({
      live: ack.length,
      dead: dead.length,
      maxDeliveries: tooOften,
      refused,
      rejected: dead.length - tooOften - refused,
    });
    await handler.committed?.(batch[batch.length - 1]!.id, dead.length > 0);
  }

  const recovery = createRecovery({
    port,
    stream,
    group,
    consumer,
    batchSize,
    claimIdleMs,
    rebuildWindowMs,
    log,
    redis,
    handle,
    progressed,
  });

  /** Ordered: the newest entry this consumer received (its recovery left nothing pending). */
  let received = "0-0";
  const readNew = async (signal: AbortSignal, block: boolean) => {
    await options.beforeRead?.(signal);
    const read = await redis(
      "read new entries",
      () =>
        port.readGroup(stream, group, consumer, {
          id: ">",
          count: batchSize,
          ...(block ? { blockMs } : {}),
        }),
      signal,
    );
    // An ordered consumer never claims its own idle entries later: catch a lost reply here.
    if (!options.ordered) return read;
    const entries = await recovery.withUnreceived(received, read, signal);
    if (entries.length > 0) received = entries[entries.length - 1]!.id;
    return entries;
  };

  return {
    status() {
      const since = now() - progressAt;
      const stuck = since > stuckAfterMs && (busy || lastError !== null);
      const why = lastError ?? "processing a batch";
      const detail = stuck ? `stuck: no progress for ${Math.round(since / 1000)} s (${why})` : null;
      return { running, stuck, detail: detail ?? (running ? "ok" : "starting") };
    },
    async run(signal) {
      try {
        progressed();
        await redis("create consumer group", () => port.createGroup(stream, group), signal);
        const checkpoint = handler.restore ? await handler.restore() : null;
        if (handler.restore) {
          await recovery.countRestart(signal);
          await recovery.claimOthers(signal, options.ordered ?? false);
          await recovery.replay(checkpoint, signal);
        } else {
          await recovery.ownPending(signal);
          await handle(await recovery.claimOthers(signal, options.ordered ?? false), signal);
        }
        running = true;
        let lastClaim = now();
        // While a batch is processed, the next one is already being read (one
        // XREADGROUP ahead, without BLOCK). A prefetched batch is pending in
        // the group like any delivered entry, so a crash loses nothing.
        let prefetched: Promise<RawEntry[]> | null = null;
        while (!signal.aborted) {
          const entries: RawEntry[] = await (prefetched ?? readNew(signal, true));
          prefetched = null;
          progressed();
          if (entries.length === batchSize) {
            prefetched = readNew(signal, false);
            prefetched.catch(() => {}); // awaited (and rethrown) at the top of the loop
          }
          const batch = live(entries, () => 1);
          if (batch.length > 0) await handle(batch, signal);
          else if (entries.length === 0) await handler.idle?.();
          if (!options.ordered && now() - lastClaim >= claimIdleMs / 2) {
            lastClaim = now();
            // XAUTOCLAIM cannot filter by owner: after a batch that took longer than
            // claimIdleMs, it hands back the batch read ahead meanwhile, which is handled next.
            const ahead = prefetched && new Set((await prefetched).map((e) => e.id));
            const claimed = await recovery.claimOthers(signal, false);
            await handle(ahead ? claimed.filter((d) => !ahead.has(d.id)) : claimed, signal);
          }
        }
        // Stopping: a batch read ahead is already delivered to this consumer;
        // process it now rather than leave it pending until it is claimed.
        if (prefetched) {
          const batch = live(await prefetched.catch((): RawEntry[] => []), () => 1);
          if (batch.length > 0) await handle(batch, signal);
        }
      } catch (error) {
        if (signal.aborted) return;
        throw error;
      } finally {
        running = false;
      }
    },
  };
}
