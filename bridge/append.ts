/**
 * Exactly-once append of classified Kafka messages to the Redis streams:
 * each partition batch becomes a few calls of the `bridge_append-5.lua`
 * script (at most `chunkSize` messages each), all sent in one pipeline.
 * The script skips offsets at or below the partition's high-water mark in
 * `vigil:bridge:offsets` and moves the mark atomically with the XADDs. It
 * also records, once, the offsets Kafka deleted before the bridge read them
 * (a `gap` dead letter), see the script's header.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { Keys } from "@vigil/shared/keys";
import type { EventType } from "@vigil/shared/schemas/event";
import type { Classified } from "./classify.ts";
import APPEND_LUA from "../shared/lua/bridge_append-5.lua" with { type: "text" };

export { APPEND_LUA };

/** Index of each stream in the script's KEYS (1-based). */
const KEY_INDEX: Record<EventType | "dlq", string> = {
  dlq: "2",
  logs: "3",
  metrics: "4",
  transactions: "5",
};

/** One classified message of a partition batch. */
export interface BatchItem {
  offset: string;
  classified: Classified;
}

/** One script call: KEYS and ARGV. */
export interface ScriptCall {
  keys: string[];
  args: string[];
  /** Messages in this call. */
  count: number;
}

/** Options for {@link buildAppendCalls}. */
export interface BuildOptions {
  keys: Keys;
  /** Approximate MAXLEN of the streams. */
  maxlen: number;
  /** Ingest time written to every entry (ms). */
  ingestTs: number;
  /** Messages per call. @default {500} */
  chunkSize?: number;
  /**
   * Lowest offset the batch accounts for: the first record Kafka returned
   * (control records included). @default the first item's offset
   */
  coverFrom?: string;
  /** The partition's log start offset, when read (after a `HOLE` answer). */
  logStart?: string;
}

/** The script's KEYS for a key builder. */
export function appendKeys(keys: Keys): string[] {
  return [
    keys.bridgeOffsets(),
    keys.dlq(),
    keys.events("logs"),
    keys.events("metrics"),
    keys.events("transactions"),
  ];
}

/**
 * Split one partition's batch (offsets increasing) into script calls. Each
 * call after the first names the previous call's last offset, so a call
 * whose predecessor failed writes nothing.
 */
export function buildAppendCalls(
  batch: { topic: string; partition: number; items: readonly BatchItem[] },
  options: BuildOptions,
): ScriptCall[] {
  const chunkSize = options.chunkSize ?? 500;
  const keys = appendKeys(options.keys);
  const head = [
    `${batch.topic}:${batch.partition}`,
    String(options.maxlen),
    batch.topic,
    String(batch.partition),
    String(options.ingestTs),
  ];
  const calls: ScriptCall[] = [];
  let previous = "";
  for (let start = 0; start < batch.items.length; start += chunkSize) {
    const end = Math.min(start + chunkSize, batch.items.length);
    const first = start === 0;
    const args = [
      ...head,
      previous,
      first ? options.coverFrom ?? batch.items[0]!.offset : "",
      first ? options.logStart ?? "" : "",
    ];
    for (let i = start; i < end; i++) {
      const { offset, classified: c } = batch.items[i]!;
      if (c.kind === "event") args.push(offset, KEY_INDEX[c.type], c.data, c.key, c.traceparent);
      else {
        args.push(
          offset,
          KEY_INDEX.dlq,
          c.raw,
          c.reason,
          c.encoding,
          String(c.size),
          c.sha256,
          c.key,
          c.keyEncoding,
        );
      }
    }
    calls.push({ keys, args, count: end - start });
    previous = batch.items[end - 1]!.offset;
  }
  return calls;
}

/** Offsets of a partition Kafka deleted before the bridge read them, recorded as a `gap`. */
export interface Gap {
  from: string;
  to: string;
  count: number;
}

/** Outcome of one script call. */
export type CallResult =
  | { ok: true; appended: number; skipped: number; gap?: Gap }
  | { ok: false; error: Error };

/** The Redis commands the appender uses. */
export interface AppendPort {
  /** SCRIPT LOAD; resolves to the SHA1. */
  loadScript(lua: string): Promise<string>;
  /** One pipeline of EVALSHA calls; one result per call, in order. */
  evalshaAll(sha: string, calls: readonly ScriptCall[]): Promise<CallResult[]>;
}

/** {@link AppendPort} over an ioredis client. */
export function ioredisAppendPort(redis: Pick<Redis, "script" | "pipeline">): AppendPort {
  return {
    async loadScript(lua) {
      return String(await redis.script("LOAD", lua));
    },
    async evalshaAll(sha, calls) {
      const pipeline = redis.pipeline();
      for (const call of calls) pipeline.evalsha(sha, call.keys.length, ...call.keys, ...call.args);
      const replies = (await pipeline.exec()) ?? [];
      return calls.map((_, i) => {
        const [error, reply] = replies[i] ?? [new Error("no reply"), null];
        if (error) return { ok: false, error };
        const [appended, skipped, , gapFrom, gapTo] = reply as [
          number,
          number,
          string,
          string?,
          string?,
        ];
        const result = { ok: true as const, appended: Number(appended), skipped: Number(skipped) };
        if (!gapFrom || !gapTo) return result;
        const count = Number(BigInt(gapTo) - BigInt(gapFrom) + 1n);
        return { ...result, gap: { from: gapFrom, to: gapTo, count } };
      });
    },
  };
}

/**
 * The script found offsets between the partition's high-water and the
 * batch that nobody read: call again with the partition's log start offset.
 */
export class HoleError extends Error {
  override name = "HoleError";
  constructor(readonly highWater: string, options?: ErrorOptions) {
    super(`Cannot append batch yet: offsets after ${highWater} were not read`, options);
  }
}

/** What an append did. */
export interface AppendResult {
  appended: number;
  skipped: number;
  /** A gap recorded by this append. */
  gap?: Gap;
}

/** Appends script calls; loads the script once and again after NOSCRIPT. */
export interface Appender {
  /**
   * Run every call in one pipeline; throws when any call failed (retry the
   * whole batch): {@link HoleError} when the batch needs the log start offset.
   */
  append(calls: readonly ScriptCall[]): Promise<AppendResult>;
}

/** Create an {@link Appender}. */
export function createAppender(port: AppendPort): Appender {
  let sha: Promise<string> | undefined;
  const load = () => (sha ??= port.loadScript(APPEND_LUA).catch((error) => {
    sha = undefined;
    throw error;
  }));
  return {
    async append(calls) {
      if (calls.length === 0) return { appended: 0, skipped: 0 };
      for (let attempt = 0;; attempt++) {
        const results = await port.evalshaAll(await load(), calls);
        const failed = results.find((r) => !r.ok);
        if (!failed) {
          let appended = 0, skipped = 0;
          let gap: Gap | undefined;
          for (const r of results) {
            if (!r.ok) continue;
            appended += r.appended;
            skipped += r.skipped;
            gap ??= r.gap;
          }
          return gap ? { appended, skipped, gap } : { appended, skipped };
        }
        const error = (failed as { error: Error }).error;
        if (attempt === 0 && /NOSCRIPT/.test(error.message)) {
          // Redis restarted or SCRIPT FLUSH: load again and re-run; applied calls are skipped.
          sha = undefined;
          continue;
        }
        const hole = /HOLE (-?\d+)/.exec(error.message);
        if (hole) throw new HoleError(hole[1]!, { cause: error });
        throw new Error(`Cannot append batch to Redis: ${error.message}`, { cause: error });
      }
    },
  };
}
