/**
 * Test helper: a real Redis connection and a unique key prefix per test,
 * with every key under the prefix deleted afterwards.
 *
 * @module
 */
import { createRedis, type Redis, type RedisConnection } from "@vigil/shared/redis";
import { createKeys, type Keys } from "@vigil/shared/keys";
import { isCluster, pipelineBySlot } from "@vigil/shared/redis_cluster";

/** Redis URL for tests (`TEST_REDIS_URL`, else localhost). */
export const TEST_REDIS_URL = Deno.env.get("TEST_REDIS_URL") ?? "redis://127.0.0.1:6379";

/** Just what {@link scanKeys} needs: SCAN, and on a cluster its masters. */
export interface ScanClient {
  scan(
    cursor: string,
    match: "MATCH",
    pattern: string,
    count: "COUNT",
    n: number,
  ): Promise<[string, string[]]>;
  readonly isCluster?: boolean;
  /** A cluster's nodes (ioredis `Cluster.nodes`). */
  nodes?(role: "master"): ScanClient[];
}

/**
 * Every key matching `pattern`, in batches as SCAN returns them; on a cluster
 * each master is scanned in turn, since a SCAN sees one node's keys. (No
 * service SCANs: the test helpers' cleanup does.)
 */
export async function* scanKeys(
  redis: ScanClient,
  pattern: string,
  options: { count?: number } = {},
): AsyncGenerator<string[]> {
  const count = options.count ?? 1000;
  const targets = isCluster(redis) && redis.nodes ? redis.nodes("master") : [redis];
  for (const node of targets) {
    let cursor = "0";
    do {
      const [next, batch] = await node.scan(cursor, "MATCH", pattern, "COUNT", count);
      cursor = next;
      yield batch;
    } while (cursor !== "0");
  }
}

/**
 * `client` with `before(command, args)` called ahead of each of its methods: to record the
 * commands a component sends, or to fail them (throw) as a cut-off connection would.
 */
export function interceptCalls<T extends object>(
  client: T,
  before: (command: string, args: unknown[]) => void,
): T {
  return new Proxy(client, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        before(String(name), args);
        return value.apply(target, args);
      };
    },
  });
}

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
