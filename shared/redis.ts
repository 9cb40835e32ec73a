/**
 * ioredis client factory with sane defaults for services: reconnects
 * forever, fails commands fast while disconnected only when asked to.
 *
 * @module
 */
import { Redis } from "ioredis";
import type { Logger } from "./log.ts";

/** Options for {@link createRedis}. */
export interface RedisOptions {
  log?: Logger;
  /** Name shown by `CLIENT LIST`. */
  name?: string;
  /** For clients that block (XREADGROUP BLOCK, SUBSCRIBE): never give up a command. @default {false} */
  blocking?: boolean;
}

/** Create a Redis client for `url`. */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  const client = new Redis(url, {
    connectionName: options.name,
    maxRetriesPerRequest: options.blocking ? null : 20,
    enableAutoPipelining: false,
    lazyConnect: false,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
  });
  let lastError = "";
  client.on("error", (error: Error) => {
    // ioredis emits the same error on every retry; log changes only.
    if (error.message !== lastError) {
      lastError = error.message;
      options.log?.warn("redis error", { error: error.message, client: options.name });
    }
  });
  client.on("ready", () => {
    if (lastError) options.log?.info("redis reconnected", { client: options.name });
    lastError = "";
  });
  return client;
}

/**
 * Create consumer group `group` on `stream` (and the stream when missing),
 * reading from its start; an existing group is left as it is.
 */
export async function createGroup(redis: Redis, stream: string, group: string): Promise<void> {
  try {
    await redis.xgroup("CREATE", stream, group, "0", "MKSTREAM");
  } catch (error) {
    if (!String((error as Error).message).includes("BUSYGROUP")) throw error;
  }
}

export type { Redis };

/**
 * Make sure the data in Redis is partitioned into `partitions`: the first
 * service to start records it (`vigil:meta` → `partitions`); a service
 * configured with another count refuses to start, since it would read and
 * write the wrong stream partitions.
 *
 * @throws {Error} naming both counts and what to do
 */
export async function ensurePartitions(
  redis: Pick<Redis, "hsetnx" | "hget">,
  metaKey: string,
  partitions: number,
): Promise<void> {
  await redis.hsetnx(metaKey, "partitions", String(partitions));
  const stored = Number(await redis.hget(metaKey, "partitions"));
  if (stored !== partitions) {
    throw new Error(
      `VIGIL_PARTITIONS is ${partitions} but the streams in this Redis were written with ` +
        `${stored} partitions: set VIGIL_PARTITIONS=${stored}, or drain the pipeline and ` +
        `change it for every service (docs/operations.md, "Changing the partition count")`,
    );
  }
}
