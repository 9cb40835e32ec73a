/**
 * Test helper: a real Redis connection and a unique key prefix per test,
 * with every key under the prefix deleted afterwards.
 *
 * @module
 */
import { createRedis, type Redis } from "@vigil/shared/redis";
import { createKeys, type Keys } from "@vigil/shared/keys";

/** Redis URL for tests (`TEST_REDIS_URL`, else localhost). */
export const TEST_REDIS_URL = Deno.env.get("TEST_REDIS_URL") ?? "redis://127.0.0.1:6379";

/** Delete every key that starts with `prefix`. */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== "0");
}

/** Run `fn` with a client and keys under a fresh `test-<uuid>:` prefix. */
export async function withRedis<T>(
  fn: (ctx: { redis: Redis; keys: Keys; prefix: string; url: string }) => Promise<T>,
): Promise<T> {
  const prefix = `test-${crypto.randomUUID().slice(0, 8)}:`;
  const redis = createRedis(TEST_REDIS_URL, { name: "test" });
  try {
    return await fn({ redis, keys: createKeys(prefix), prefix, url: TEST_REDIS_URL });
  } finally {
    try {
      await deletePrefix(redis, prefix);
    } finally {
      redis.disconnect();
    }
  }
}
