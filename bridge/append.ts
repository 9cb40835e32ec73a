/**
 * Exactly-once append of classified Kafka messages to the Redis streams.
 *
 * A partition batch is routed (shared/partitions.ts): each event to its
 * type's stream partition, chosen by its entity, and with several partitions
 * also to a projection stream; dead letters and gap records to the
 * dead-letter stream. Each target stream gets its own calls of the
 * `bridge_append-2.lua` script (at most `chunkSize` items each): the script
 * skips Kafka offsets at or below the high-water of that stream for that
 * Kafka partition and moves it atomically with the XADDs, so a redelivered
 * batch never duplicates an entry, whichever targets it had reached before a
 * crash. A high-water the partition's log does not reach (its high watermark
 * is at or below it: the topic was created again, or another cluster
 * answers) starts again instead of skipping the new log as redeliveries:
 * the bridge deletes it from every stream ({@link offsetHashes}) when its
 * progress record shows the reset, the script per stream otherwise. A
 * stream and its offsets hash share a hash tag (one slot). MAXLEN never
 * trims what the detector has not processed: a call that would is refused
 * ("FULL …") and retried until the detector caught up, with the Kafka
 * offsets uncommitted, so Kafka keeps the messages meanwhile.
 *
 * @module
 */
import type { Gap } from "@vigil/shared/kafka_gaps";
import { GROUPS, type Keys } from "@vigil/shared/keys";
import { kindsFor, partitionOf, type StreamKind } from "@vigil/shared/partitions";
import type { Classified } from "./classify.ts";
import {
  addScriptCall,
  execScripted,
  redisScript,
  type ScriptPipeline,
} from "@vigil/shared/redis_script";
import { type AppendTally, type Counted, tallyCall } from "./tally.ts";
import APPEND_LUA from "../shared/lua/bridge_append-2.lua" with { type: "text" };
import GROUP_LEFT_LUA from "../shared/lua/group_left.lua" with { type: "text" };

/** One classified message of a partition batch. */
export interface BatchItem {
  offset: string;
  classified: Classified;
}

export type { AppendTally, Gap };
export { createTally } from "./tally.ts";

/** One script call: KEYS and ARGV. */
export interface ScriptCall {
  keys: [offsets: string, stream: string];
  args: string[];
  /** Its items, each with what it counts as once written ({@link AppendTally}). */
  counts: Counted[];
}

/** Options of {@link buildAppendCalls}. */
export interface BuildOptions {
  keys: Keys;
  /** Stream partitions (`VIGIL_PARTITIONS`). */
  partitions: number;
  /** Approximate MAXLEN of the streams. */
  maxlen: number;
  /** Ingest time written to every entry (ms). */
  ingestTs: number;
  /** Items per call. @default {500} */
  chunkSize?: number;
  /** A gap to record before the batch's messages (dead-letter stream). */
  gap?: Gap;
}

/** A stream the batch writes to. */
type Target = { kind: StreamKind; partition: number } | "dlq";

function targetName(t: Target): string {
  return t === "dlq" ? "dlq" : `${t.kind}:${t.partition}`;
}

/**
 * The script calls of one partition batch (items in offset order): per
 * target stream, chunks that each name their predecessor's last offset, so a
 * call whose predecessor failed writes nothing.
 */
export function buildAppendCalls(
  batch: {
    topic: string;
    partition: number;
    items: readonly BatchItem[];
    /**
     * The partition's high watermark when the batch was fetched (kafkajs
     * `batch.highWatermark`): a stored high-water at or above it means the
     * log was reset, and the script starts it again. Absent: not checked.
     */
    highWatermark?: string | undefined;
  },
  options: BuildOptions,
): ScriptCall[] {
  const { keys, partitions } = options;
  const chunkSize = options.chunkSize ?? 500;
  const byTarget = new Map<string, { target: Target; values: string[][]; counts: Counted[] }>();
  const add = (target: Target, values: string[], counted: Counted) => {
    const name = targetName(target);
    let t = byTarget.get(name);
    if (t === undefined) byTarget.set(name, t = { target, values: [], counts: [] });
    t.values.push(values);
    t.counts.push(counted);
  };
  if (options.gap) {
    const g = options.gap;
    add("dlq", ["g", g.to, g.from, String(g.count)], "gap");
  }
  for (const { offset, classified: c } of batch.items) {
    if (c.kind === "dead") {
      add("dlq", [
        "d",
        offset,
        c.raw,
        c.reason,
        c.encoding,
        String(c.size),
        c.sha256,
        c.key,
        c.keyEncoding,
      ], c);
      continue;
    }
    const r = c.route;
    add({ kind: c.type, partition: partitionOf(r.entity, partitions) }, [
      "e",
      offset,
      c.data,
      c.key,
      c.traceparent,
    ], c);
    if (partitions <= 1) continue;
    // The projections of the rules keyed on another field than the stream's entity.
    const projection = c.type === "logs" && r.user !== undefined
      ? { kind: "logs_by_user" as const, by: r.user, field: { user_id: r.user } }
      : c.type === "transactions" && r.status !== undefined
      ? { kind: "transactions_by_status" as const, by: r.status, field: { status: r.status } }
      : null;
    if (projection === null) continue;
    const data = JSON.stringify({ timestamp: r.timestamp, ...projection.field });
    add({ kind: projection.kind, partition: partitionOf(projection.by, partitions) }, [
      "e",
      offset,
      data,
      c.key,
      c.traceparent,
    ], null);
  }
  const head = (target: Target): [string, string] =>
    target === "dlq"
      ? [keys.bridgeOffsets("dlq"), keys.dlq()]
      : [keys.bridgeOffsets(target), keys.events(target.kind, target.partition)];
  const calls: ScriptCall[] = [];
  const logEnd = /^\d+$/.test(batch.highWatermark ?? "") ? batch.highWatermark! : "";
  const common = [
    `${batch.topic}:${batch.partition}`,
    String(options.maxlen),
    batch.topic,
    String(batch.partition),
    String(options.ingestTs),
  ];
  for (const { target, values, counts } of byTarget.values()) {
    let previous = "";
    for (let start = 0; start < values.length; start += chunkSize) {
      const chunk = values.slice(start, start + chunkSize);
      calls.push({
        keys: head(target),
        // The detector's group protects its unprocessed entries from MAXLEN (the script's FULL).
        args: [
          ...common,
          previous,
          logEnd,
          target === "dlq" ? "" : GROUPS.detector,
          ...chunk.flat(),
        ],
        counts: counts.slice(start, start + chunkSize),
      });
      previous = chunk[chunk.length - 1]![1]!;
    }
  }
  return calls;
}

/** Outcome of one script call. */
export type CallResult =
  | { ok: true; appended: number; skipped: number; gaps: number; reset: boolean }
  | { ok: false; error: Error };

/**
 * A hash field to set with the calls (the bridge's progress per Kafka
 * partition), only when Redis took every call: a batch refused in part is not
 * accounted for.
 */
export interface FieldWrite {
  key: string;
  field: string;
  value: string;
  /** The field's value now (null: absent), put back when a call failed. */
  previous: string | null;
}

/** The Redis commands the appender uses. */
export interface AppendPort {
  /** Run every call (pipelined), then `after` when given; one result per call, in order. */
  runAll(calls: readonly ScriptCall[], after?: FieldWrite): Promise<CallResult[]>;
  /**
   * Delete `field` (a Kafka partition, `topic:partition`) from every hash in
   * `hashes`; without `field`, the hashes themselves (every partition).
   */
  forget(hashes: readonly string[], field?: string): Promise<void>;
}

/**
 * Every offsets hash a Kafka partition's messages may have moved: each
 * stream partition of each kind in use, and the dead letters'. When the
 * partition's log started again, its field goes from all of them, so no
 * stream the new log has not reached yet keeps the old log's high-water.
 */
export function offsetHashes(keys: Keys, partitions: number): string[] {
  const out = kindsFor(partitions).flatMap((kind) =>
    Array.from({ length: partitions }, (_, partition) => keys.bridgeOffsets({ kind, partition }))
  );
  out.push(keys.bridgeOffsets("dlq"));
  return out;
}

/** What an append did. */
export interface AppendResult {
  appended: number;
  skipped: number;
  /** Whether the batch's gap record was written by this attempt (not a redelivery). */
  gapRecorded: boolean;
  /** Whether a target's high-water was above the partition's log end, so started again. */
  logReset: boolean;
}

/**
 * Run a batch's calls; throws when any call failed (retry the whole batch:
 * applied calls are skipped). `tally`, when given (the same over a batch's
 * attempts), gets what the applied calls wrote, of a failed attempt too.
 */
export async function appendBatch(
  port: AppendPort,
  calls: readonly ScriptCall[],
  after?: FieldWrite,
  tally?: AppendTally,
): Promise<AppendResult> {
  const results = await port.runAll(calls, after);
  if (tally) {
    results.forEach((r, i) => r.ok && tallyCall(tally, i, calls[i]!.counts, r.skipped));
  }
  const failed = results.find((r) => !r.ok);
  if (failed) {
    const error = (failed as { error: Error }).error;
    throw new Error(`Cannot append batch to Redis: ${error.message}`, { cause: error });
  }
  let appended = 0, skipped = 0, gaps = 0, logReset = false;
  for (const r of results) {
    if (!r.ok) continue;
    appended += r.appended;
    skipped += r.skipped;
    gaps += r.gaps;
    logReset ||= r.reset;
  }
  return { appended, skipped, gapRecorded: gaps > 0, logReset };
}

/** Just what {@link ioredisAppendPort} calls on ioredis (a client or a cluster). */
export interface ScriptClient {
  pipeline(): { exec(): Promise<[Error | null, unknown][] | null> };
  hset(key: string, field: string, value: string): Promise<unknown>;
  hdel(key: string, field: string): Promise<unknown>;
  del(key: string): Promise<unknown>;
  /** ioredis: true on a cluster client. */
  readonly isCluster?: boolean;
}

/** The append script: keys are the target stream and its offsets hash. */
const APPEND = redisScript(`${GROUP_LEFT_LUA}\n${APPEND_LUA}`, 2);

/**
 * {@link AppendPort} over ioredis: the script by its SHA, its source again
 * only to a node that answers NOSCRIPT (`shared/redis_script.ts`). One
 * pipeline of every call on a single Redis; on a Redis Cluster (`perSlot`),
 * one pipeline per target stream (its keys share one slot), run
 * concurrently. Re-running calls after NOSCRIPT is safe: calls that were
 * applied skip their offsets (they count as duplicates skipped).
 */
export function ioredisAppendPort(
  redis: ScriptClient,
  options: { perSlot?: boolean } = {},
): AppendPort {
  async function run(calls: readonly ScriptCall[], after?: FieldWrite): Promise<CallResult[]> {
    type Pipe = ScriptPipeline & {
      hset(key: string, field: string, value: string): void;
      exec(): Promise<[Error | null, unknown][] | null>;
    };
    const replies = await execScripted(
      () => redis.pipeline() as unknown as Pipe,
      (p, withSource) => {
        for (const call of calls) {
          addScriptCall(
            p,
            APPEND,
            [...call.keys, ...call.args],
            withSource,
          );
        }
        if (after) p.hset(after.key, after.field, after.value);
      },
    );
    const last = after ? replies[calls.length] : undefined;
    if (last?.[0]) throw last[0];
    const results: CallResult[] = calls.map((_, i) => {
      const [error, reply] = replies[i] ?? [new Error("no reply"), null];
      if (error) return { ok: false, error };
      const [appended, skipped, gaps, , reset] = reply as [number, number, number, string, number];
      return {
        ok: true,
        appended: Number(appended),
        skipped: Number(skipped),
        gaps: Number(gaps),
        reset: Number(reset) === 1,
      };
    });
    // Pipelined with the calls (no round trip more per batch): undone when one failed.
    if (after && results.some((r) => !r.ok)) {
      if (after.previous === null) await redis.hdel(after.key, after.field);
      else await redis.hset(after.key, after.field, after.previous);
    }
    return results;
  }
  return {
    async forget(hashes, field) {
      // Rare (a log that started again): one command per hash, each in its own slot.
      await Promise.all(
        hashes.map((hash) => field === undefined ? redis.del(hash) : redis.hdel(hash, field)),
      );
    },
    async runAll(calls, after) {
      if (!options.perSlot) return await run(calls, after);
      const groups = Map.groupBy(calls.keys(), (i) => calls[i]!.keys[1]);
      const out: CallResult[] = new Array(calls.length);
      await Promise.all([...groups.values()].map(async (indexes) => {
        const results = await run(indexes.map((i) => calls[i]!));
        indexes.forEach((i, j) => (out[i] = results[j]!));
      }));
      if (after && out.every((r) => r.ok)) await redis.hset(after.key, after.field, after.value);
      return out;
    },
  };
}
