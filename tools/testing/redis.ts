/**
 * Test helper: a real Redis connection and a unique key prefix per test,
 * with every key under the prefix deleted afterwards.
 *
 * @module
 */
import { createRedis, type Redis, type RedisConnection } from "@vigil/shared/redis";
import { createKeys, type Keys } from "@vigil/shared/keys";
import { pipelineBySlot, scanKeys } from "@vigil/shared/redis_cluster";

/** Redis URL for tests (`TEST_REDIS_URL`, else localhost). */
export const TEST_REDIS_URL = Deno.env.get("TEST_REDIS_URL") ?? "redis://127.0.0.1:6379";

/** Delete every key that starts with `prefix` (on every master of a cluster). */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  for await (const keys of scanKeys(redis, `${prefix}*`)) {
    const replies = await pipelineBySlot(
      redis,
      keys.map((key) => ({ key, add: (p) => p.del(key) })),
    );
    for (const [error] of replies) if (error) throw error;
  }
}

/** What a test gets from {@link withRedis} or `withRedisCluster` (redis_cluster.ts). */
export interface RedisTestContext {
  /** A client (a cluster client under `withRedisCluster`). */
  redis: Redis;
  keys: Keys;
  /** The unique key prefix (`VIGIL_PREFIX` of spawned services). */
  prefix: string;
  /** Where Redis is, for more clients (`createRedis(connection)`). */
  connection: RedisConnection;
  /** The environment that points a spawned service at this Redis (`REDIS_URL` or `REDIS_CLUSTER_NODES`). */
  env: Record<string, string>;
}

/** `withRedis` or `withRedisCluster`: a test body written once runs on either. */
export type WithRedisTarget = <T>(fn: (ctx: RedisTestContext) => Promise<T>) => Promise<T>;

/** Run `fn` with a client and keys under a fresh `test-<uuid>:` prefix. */
export async function withRedis<T>(
  fn: (ctx: RedisTestContext & { url: string }) => Promise<T>,
): Promise<T> {
  const prefix = `test-${crypto.randomUUID().slice(0, 8)}:`;
  const redis = createRedis(TEST_REDIS_URL, { name: "test" });
  try {
    return await fn({
      redis,
      keys: createKeys(prefix),
      prefix,
      url: TEST_REDIS_URL,
      connection: { url: TEST_REDIS_URL },
      env: { REDIS_URL: TEST_REDIS_URL },
    });
  } finally {
    try {
      await deletePrefix(redis, prefix);
    } finally {
      redis.disconnect();
    }
  }
}
