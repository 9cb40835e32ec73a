/**
 * {@link StreamClient} over ioredis. Use a dedicated connection per consumer:
 * XREADGROUP BLOCK holds its connection.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { Keys } from "@vigil/shared/keys";
import type { DeadLetterEntry, PendingInfo, RawEntry, StreamClient } from "./consumer.ts";
import { deadLetterFields, fieldsToObject } from "@vigil/shared/schemas/stream";
import { createGroup } from "@vigil/shared/redis";
import { createRespConnection, type Reply as Resp, type RespConnection } from "./resp_reader.ts";

type Reply = [string, string[] | null][];

function entries(reply: unknown): RawEntry[] {
  return ((reply ?? []) as Reply).map(([id, fields]) => ({ id, fields }));
}

/**
 * A lean reader on its own connection to the same server as `redis` (same
 * host, port, credentials and database), closed with it; null over TLS.
 */
function readerFor(redis: Redis): RespConnection | null {
  const o = redis.options;
  if (o.tls || o.path) return null;
  const reader = createRespConnection({
    host: o.host ?? "127.0.0.1",
    port: o.port ?? 6379,
    username: o.username,
    password: o.password,
    db: o.db,
  });
  redis.once("end", () => reader.close());
  return reader;
}

/** XREADGROUP's reply (RESP2) as entries of the first stream. */
function readReply(reply: Resp): RawEntry[] {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  const first = reply[0] as unknown as [string, [string, string[] | null][]] | undefined;
  const list = first?.[1] ?? [];
  const out: RawEntry[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const e = list[i]!;
    out[i] = { id: e[0], fields: e[1] };
  }
  return out;
}

/**
 * Create the stream client; dead letters go to `keys.dlq()` with source
 * `detector`. XREADGROUP goes through the lean reader (resp_reader.ts) unless
 * `fastReads` is false; every other command through `redis`.
 */
export function createRedisStreamClient(
  redis: Redis,
  keys: Keys,
  now: () => number = Date.now,
  options: { fastReads?: boolean } = {},
): StreamClient {
  const reader = options.fastReads === false ? null : readerFor(redis);
  return {
    async createGroup(stream, group) {
      await createGroup(redis, stream, group);
    },
    async readGroup(stream, group, consumer, { id, count, blockMs }) {
      if (reader !== null) {
        const args: (string | number)[] = ["XREADGROUP", "GROUP", group, consumer, "COUNT", count];
        if (blockMs !== undefined) args.push("BLOCK", blockMs);
        args.push("STREAMS", stream, id);
        return readReply(await reader.command(args));
      }
      const reply = blockMs === undefined
        ? await redis.xreadgroup("GROUP", group, consumer, "COUNT", count, "STREAMS", stream, id)
        : await redis.xreadgroup(
          "GROUP",
          group,
          consumer,
          "COUNT",
          count,
          "BLOCK",
          blockMs,
          "STREAMS",
          stream,
          id,
        );
      const streams = reply as [string, unknown][] | null;
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
      ) as [
        string,
        unknown,
        string[]?,
      ];
      return { next: reply[0], entries: entries(reply[1]), deleted: reply[2] ?? [] };
    },
    async pending(stream, group, { start, count }) {
      const reply = await redis.xpending(stream, group, start, "+", count) as [
        string,
        string,
        number,
        number,
      ][];
      return reply.map(([id, consumer, idleMs, deliveries]): PendingInfo => ({
        id,
        consumer,
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
    async ack(stream, group, ids, dead: readonly DeadLetterEntry[]) {
      const p = redis.pipeline();
      const ts = now();
      for (const d of dead) {
        const f = d.fields ? fieldsToObject(d.fields) : {};
        const fields = deadLetterFields({
          source: "detector",
          reason: d.reason,
          raw: f.data ?? JSON.stringify(f),
          stream,
          streamId: d.id,
          ts,
          topic: f.topic,
          partition: f.partition,
          offset: f.offset,
        });
        p.xadd(keys.dlq(), "*", ...fields);
      }
      for (let i = 0; i < ids.length; i += 5000) p.xack(stream, group, ...ids.slice(i, i + 5000));
      const results = (await p.exec()) ?? [];
      for (const [error] of results) if (error) throw error;
    },
  };
}
