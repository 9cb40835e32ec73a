/**
 * The Redis Streams commands a consumer group member needs
 * ({@link StreamPort}), and their ioredis adapter. Dead letters go to the
 * dead-letter stream with the entry's fields and the reason.
 *
 * @module
 */
import type { Redis } from "./redis.ts";
import { createGroup } from "./redis.ts";
import { deadLetterFields, fieldsToObject } from "./schemas/stream.ts";

/** A stream entry as read: flat `[field, value, …]`, null when deleted from the stream. */
export interface RawEntry {
  id: string;
  fields: string[] | null;
}

/** One entry of the pending entries list (XPENDING extended form). */
export interface PendingInfo {
  id: string;
  consumer: string;
  idleMs: number;
  deliveries: number;
}

/** An entry to move to the dead-letter stream, with the reason. */
export interface DeadLetterEntry {
  id: string;
  reason: string;
  fields: string[] | null;
}

/** The Redis commands the consumer uses, for one consumer group. */
export interface StreamPort {
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
  ): Promise<{ next: string; entries: RawEntry[] }>;
  /** XPENDING s g start + count [consumer]. */
  pending(
    stream: string,
    group: string,
    options: { start: string; end?: string; count: number; consumer?: string },
  ): Promise<PendingInfo[]>;
  /** The group's last-delivered id (XINFO GROUPS). */
  lastDeliveredId(stream: string, group: string): Promise<string>;
  /** XRANGE s (afterId endId COUNT n. */
  range(stream: string, afterId: string, endId: string, count: number): Promise<RawEntry[]>;
  /** XADD the dead letters, then XACK `ids` and the dead letters' ids. */
  ack(
    stream: string,
    group: string,
    ids: readonly string[],
    dead: readonly DeadLetterEntry[],
  ): Promise<void>;
}

/** Compare two stream ids numerically. */
export function compareIds(a: string, b: string): number {
  const [am, as = "0"] = a.split("-");
  const [bm, bs = "0"] = b.split("-");
  const d = Number(am) - Number(bm);
  return d !== 0 ? Math.sign(d) : Math.sign(Number(as) - Number(bs));
}

/** The id just before `id` (for an exclusive range start). */
export function previousId(id: string): string {
  const [ms, seq = "0"] = id.split("-");
  if (Number(seq) > 0) return `${ms}-${Number(seq) - 1}`;
  return Number(ms) > 0 ? `${Number(ms) - 1}-${Number.MAX_SAFE_INTEGER}` : "0-0";
}

type Reply = [string, string[] | null][];

function entries(reply: unknown): RawEntry[] {
  // A plain loop: destructuring each [id, fields] pair allocates an iterator per entry.
  const pairs = (reply ?? []) as Reply;
  const out = new Array<RawEntry>(pairs.length);
  for (let i = 0; i < pairs.length; i++) out[i] = { id: pairs[i]![0], fields: pairs[i]![1] };
  return out;
}

/** Options of {@link createRedisStreamPort}. */
export interface RedisStreamPortOptions {
  /** Commands (pending, claim, ack, dead letters). */
  redis: Redis;
  /** Blocking reads (XREADGROUP BLOCK holds its connection). @default redis */
  reader?: Redis;
  /** The dead-letter stream. */
  dlq: string;
  /** `source` of the dead letters: `detector`, `notifier`. */
  source: string;
  now?: () => number;
}

/**
 * The port over ioredis. Dead letters are appended before the entries are
 * acknowledged, in separate pipelines: on a Redis Cluster the dead-letter
 * stream and the consumed stream live in different slots. A crash between
 * the two leaves the entry pending; it is dead-lettered again (the dead
 * letter names its stream id, so a duplicate is recognisable).
 */
export function createRedisStreamPort(options: RedisStreamPortOptions): StreamPort {
  const { redis, dlq, source } = options;
  const reader = options.reader ?? redis;
  const now = options.now ?? Date.now;
  return {
    createGroup: (stream, group) => createGroup(redis, stream, group),
    async readGroup(stream, group, consumer, { id, count, blockMs }) {
      const block = blockMs === undefined ? [] : ["BLOCK", blockMs];
      const args = ["GROUP", group, consumer, "COUNT", count, ...block, "STREAMS", stream, id];
      const streams = await reader.call("xreadgroup", ...args) as [string, unknown][] | null;
      return streams && streams[0] ? entries(streams[0][1]) : [];
    },
    async autoclaim(stream, group, consumer, { minIdleMs, start, count }) {
      const reply = await redis.xautoclaim(
        stream,
        group,
        consumer,
        minIdleMs,
        start,
        "COUNT",
        count,
      ) as [string, unknown];
      return { next: reply[0], entries: entries(reply[1]) };
    },
    async pending(stream, group, { start, end = "+", count, consumer }) {
      const args: (string | number)[] = [stream, group, start, end, count];
      if (consumer) args.push(consumer);
      const reply = await redis.call("XPENDING", ...args) as [string, string, number, number][];
      return reply.map(([id, c, idleMs, deliveries]): PendingInfo => ({
        id,
        consumer: c,
        idleMs: Number(idleMs),
        deliveries: Number(deliveries),
      }));
    },
    async lastDeliveredId(stream, group) {
      const groups = await redis.xinfo("GROUPS", stream) as unknown[][];
      for (const g of groups) {
        const info = fieldsToObject(g.map(String));
        if (info.name === group) return info["last-delivered-id"] ?? "0-0";
      }
      throw new Error(`Cannot read group ${group} of ${stream}: no such group`);
    },
    async range(stream, afterId, endId, count) {
      return entries(await redis.xrange(stream, `(${afterId}`, endId, "COUNT", count));
    },
    async ack(stream, group, ids, dead) {
      if (dead.length > 0) {
        const p = redis.pipeline();
        const ts = now();
        for (const d of dead) {
          const f = d.fields ? fieldsToObject(d.fields) : {};
          const fields = deadLetterFields({
            source,
            reason: d.reason,
            raw: f.data ?? f.alert ?? JSON.stringify(f),
            stream,
            streamId: d.id,
            ts,
            topic: f.topic,
            partition: f.partition,
            offset: f.offset,
          });
          p.xadd(dlq, "*", ...fields);
        }
        for (const [error] of (await p.exec()) ?? []) if (error) throw error;
      }
      const all = [...ids, ...dead.map((d) => d.id)];
      if (all.length === 0) return;
      const p = redis.pipeline();
      for (let i = 0; i < all.length; i += 5000) p.xack(stream, group, ...all.slice(i, i + 5000));
      for (const [error] of (await p.exec()) ?? []) if (error) throw error;
    },
  };
}
