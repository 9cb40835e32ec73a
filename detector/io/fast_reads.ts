/**
 * XREADGROUP through the lean RESP reader (resp_reader.ts) instead of
 * ioredis: one UTF-8 decode per reply instead of a Buffer per field. Kept
 * only while `deno task bench:detector --reads=compare` shows it worth it
 * (see docs/benchmarks.md).
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { RawEntry, StreamPort } from "@vigil/shared/stream_port";
import { createRespConnection, type Reply } from "./resp_reader.ts";

/** XREADGROUP's reply (RESP2) as entries of the first stream. */
function readReply(reply: Reply): RawEntry[] {
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
 * `port` with its XREADGROUP on a lean connection to the same server as
 * `redis` (closed with it); `port` itself over TLS or a unix socket.
 */
export function withFastReads(port: StreamPort, redis: Redis): StreamPort {
  const o = redis.options;
  if (o.tls || o.path) return port;
  const reader = createRespConnection({
    host: o.host ?? "127.0.0.1",
    port: o.port ?? 6379,
    username: o.username,
    password: o.password,
    db: o.db,
  });
  redis.once("end", () => reader.close());
  return {
    ...port,
    async readGroup(stream, group, consumer, { id, count, blockMs }) {
      const args: (string | number)[] = ["XREADGROUP", "GROUP", group, consumer, "COUNT", count];
      if (blockMs !== undefined) args.push("BLOCK", blockMs);
      args.push("STREAMS", stream, id);
      return readReply(await reader.command(args));
    },
  };
}
