/**
 * The alerts stream port: only the Redis commands the notifier uses, over
 * the consumer group `notifier` on `vigil:alerts` (ioredis adapter below).
 *
 * @module
 */
import { createGroup, type Redis } from "@vigil/shared/redis";
import { deadLetterFields, fieldsToObject } from "@vigil/shared/schemas/stream";
import type { Keys } from "@vigil/shared/keys";

/** A stream entry (fields null when the entry was trimmed away). */
export interface StreamMessage {
  id: string;
  fields: Record<string, string> | null;
}

/** A pending entry as XPENDING reports it. */
export interface PendingInfo {
  id: string;
  consumer: string;
  idleMs: number;
  deliveries: number;
}

/** What the notifier needs from Redis. */
export interface AlertStream {
  ensureGroup(): Promise<void>;
  /** XREADGROUP from `id` (`>` for new, else own pending after `id`); `blockMs` null = no block. */
  read(id: string, count: number, blockMs: number | null): Promise<StreamMessage[]>;
  ack(ids: readonly string[]): Promise<number>;
  /** Append each to the dead-letter stream with its reason, then acknowledge (one MULTI). */
  deadLetter(entries: readonly { id: string; raw: string; reason: string }[]): Promise<void>;
  pendingCount(): Promise<number>;
  /** Pending entries of any consumer idle at least `minIdleMs`. */
  idlePending(minIdleMs: number, count: number): Promise<PendingInfo[]>;
  /** XCLAIM `ids` for this consumer. */
  claim(ids: readonly string[], minIdleMs: number): Promise<StreamMessage[]>;
}

/** ioredis adapter. `reader` is a dedicated (blocking) connection. */
export function createAlertStream(options: {
  redis: Redis;
  reader: Redis;
  keys: Keys;
  group: string;
  consumer: string;
  now?: () => number;
}): AlertStream {
  const { redis, reader, keys, group, consumer } = options;
  const stream = keys.alerts();
  const now = options.now ?? Date.now;
  return {
    async ensureGroup() {
      await createGroup(redis, stream, group);
    },
    async read(id, count, blockMs) {
      const reply =
        (blockMs === null
          ? await reader.xreadgroup("GROUP", group, consumer, "COUNT", count, "STREAMS", stream, id)
          : await reader.xreadgroup(
            "GROUP",
            group,
            consumer,
            "COUNT",
            count,
            "BLOCK",
            Math.max(1, Math.round(blockMs)),
            "STREAMS",
            stream,
            id,
          )) as [string, [string, string[] | null][]][] | null;
      const entries = reply?.[0]?.[1] ?? [];
      return entries.map(([eid, fields]) => ({
        id: eid,
        fields: fields ? fieldsToObject(fields) : null,
      }));
    },
    async ack(ids) {
      if (ids.length === 0) return 0;
      return await redis.xack(stream, group, ...ids);
    },
    async deadLetter(entries) {
      if (entries.length === 0) return;
      const multi = redis.multi();
      for (const e of entries) {
        multi.xadd(
          keys.dlq(),
          "*",
          ...deadLetterFields({
            source: "notifier",
            reason: e.reason,
            raw: e.raw,
            stream,
            streamId: e.id,
            ts: now(),
          }),
        );
      }
      multi.xack(stream, group, ...entries.map((e) => e.id));
      const res = await multi.exec();
      const failed = res?.find(([err]) => err);
      if (!res || failed) {
        throw new Error(`Cannot dead-letter: ${failed?.[0]?.message ?? "aborted"}`);
      }
    },
    async pendingCount() {
      const r = await redis.xpending(stream, group) as [number, ...unknown[]];
      return Number(r[0] ?? 0);
    },
    async idlePending(minIdleMs, count) {
      const rows = await redis.call(
        "XPENDING",
        stream,
        group,
        "IDLE",
        String(minIdleMs),
        "-",
        "+",
        String(count),
      ) as [string, string, number, number][];
      return rows.map(([id, c, idle, n]) => ({
        id,
        consumer: c,
        idleMs: Number(idle),
        deliveries: Number(n),
      }));
    },
    async claim(ids, minIdleMs) {
      if (ids.length === 0) return [];
      const rows = await redis.xclaim(stream, group, consumer, minIdleMs, ...ids) as [
        string,
        string[] | null,
      ][];
      return rows.map(([id, fields]) => ({ id, fields: fields ? fieldsToObject(fields) : null }));
    },
  };
}
