/**
 * ioredis client factory with sane defaults for services: reconnects
 * forever, fails commands fast while disconnected only when asked to. The
 * client is a single server's or, with `REDIS_CLUSTER_NODES`, a Redis
 * Cluster's (ioredis' `Cluster`, which routes each command to its slot's
 * master); both take the same commands. What differs on a cluster (one
 * slot per script call and pipeline, SCAN per master) is in
 * `redis_cluster.ts`.
 *
 * @module
 */
// ioredis's clients are EventEmitters; this import brings the types of `on`/`once` (@types/node)
// when this module is checked on its own (an editor, `deno check shared/redis.ts`).
import type {} from "node:events";
import { Cluster, Redis as SingleRedis } from "ioredis";
import type { Logger } from "./log.ts";
import type { HealthDetail } from "./http/ops_app.ts";
import { clusterProblems, type HealthNode } from "./redis_cluster.ts";
import { ConfigError } from "./config.ts";

/** A Redis client: one server or a Redis Cluster (ioredis `Redis` or `Cluster`). */
export type Redis = SingleRedis | Cluster;

/** Where Redis is: a URL, or a cluster's seed nodes (with the URL's credentials and TLS). */
export interface RedisConnection {
  /** `redis://` or `rediss://` URL; with `clusterNodes`, only its user, password and TLS count. */
  url: string;
  /** `host:port` of some cluster nodes (ioredis discovers the rest). */
  clusterNodes?: readonly string[] | undefined;
}

/** The connection `REDIS_URL` and `REDIS_CLUSTER_NODES` describe. */
export function redisConnection(
  env: { REDIS_URL: string; REDIS_CLUSTER_NODES?: readonly string[] | undefined },
): RedisConnection {
  return env.REDIS_CLUSTER_NODES?.length
    ? { url: env.REDIS_URL, clusterNodes: env.REDIS_CLUSTER_NODES }
    : { url: env.REDIS_URL };
}

/** Options for {@link createRedis}. */
export interface RedisOptions {
  log?: Logger;
  /** Name shown by `CLIENT LIST`. */
  name?: string;
  /** For clients that block (XREADGROUP BLOCK, SUBSCRIBE): never give up a command. @default {false} */
  blocking?: boolean;
  /**
   * With `log`: say when Redis is connected but does not answer (a hung
   * server keeps the connection open; commands then wait without an error, and
   * nothing was logged). A PING every half of this; while one is unanswered, a
   * warning every `watchMs`, and a line when Redis answers again. 0: off.
   * @default {REDIS_WATCH_MS}, 0 for a blocking client (its PING would wait behind its BLOCK)
   */
  watchMs?: number;
}

/** The default {@link RedisOptions.watchMs}: a hung Redis is logged after 10 s. */
const REDIS_WATCH_MS = 10_000;

const reconnectDelay = (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000);

/** Whether this process has looked at the eviction policy (once, by its first client with a logger). */
let evictionChecked = false;

/**
 * Warn when Redis may evict any key under memory pressure (`maxmemory-policy
 * allkeys-*`): streams, pending entries, offsets and checkpoints have no TTL,
 * and evicting them loses events without a trace (BullMQ warns the same way).
 */
async function checkEviction(client: Redis, log: Logger): Promise<void> {
  const info = await client.info("memory");
  const policy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
  if (policy?.startsWith("allkeys-")) {
    log.warn(
      `Redis may evict any key when it runs out of memory (maxmemory-policy ${policy}): streams and offsets would be lost without a trace; set maxmemory-policy noeviction (or volatile-lru)`,
      { policy },
    );
  }
}

/** Log while `client` is connected and its PING goes unanswered ({@link RedisOptions.watchMs}). */
function watchAnswers(client: Redis, log: Logger, name: string | undefined, everyMs: number) {
  let askedAt: number | undefined; // when the PING in flight was sent
  let warnedAt = 0; // of the last warning about it; 0: none
  const seconds = (ms: number) => Math.round(ms / 1000);
  const timer = setInterval(() => {
    const now = Date.now();
    if (askedAt !== undefined) {
      if (now - askedAt >= everyMs && now - warnedAt >= everyMs) {
        warnedAt = now;
        log.warn(`Redis has not answered for ${seconds(now - askedAt)} s (connected, no reply)`, {
          client: name,
        });
      }
      return;
    }
    if (client.status !== "ready") return; // disconnected: the "redis error" lines say so
    askedAt = now;
    client.ping().then(() => {
      if (warnedAt) {
        log.info(`Redis answers again after ${seconds(Date.now() - now)} s`, { client: name });
      }
      warnedAt = 0;
    }, () => {}).finally(() => askedAt = undefined);
  }, Math.max(50, Math.floor(everyMs / 2)));
  Deno.unrefTimer(timer);
  client.once("end", () => clearInterval(timer));
}

/** `host:port` (IPv6 in brackets) as ioredis' node address. */
export function parseHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(":");
  return { host: s.slice(0, i).replace(/^\[(.*)\]$/, "$1"), port: Number(s.slice(i + 1)) };
}

function createCluster(conn: RedisConnection, options: RedisOptions): Cluster {
  const url = new URL(conn.url);
  const nodeOptions = {
    ...(options.name ? { connectionName: options.name } : {}),
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(url.protocol === "rediss:" ? { tls: {} } : {}),
    maxRetriesPerRequest: options.blocking ? null : 20,
    enableAutoPipelining: false,
  };
  return new Cluster((conn.clusterNodes ?? []).map(parseHostPort), {
    redisOptions: nodeOptions,
    clusterRetryStrategy: reconnectDelay,
    scaleReads: "master",
    enableOfflineQueue: true,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: 2000,
  });
}

/**
 * The last error of each client {@link createRedis} made, until it is ready again: told once
 * (ioredis repeats it on every retry), and named by {@link redisHealth}.
 */
const lastErrors = new WeakMap<object, string>();

/**
 * Health check of a Redis client: PING answers PONG. A client that is not connected fails at
 * once, saying why (`not connected (reconnecting): connect ECONNREFUSED 127.0.0.1:6379`): its PING would wait in
 * the offline queue and the check fail as "timed out", as for a Redis that hangs. On a cluster
 * every master must answer and report `cluster_state:ok` ({@link clusterProblems}).
 */
export async function redisHealth(
  client: {
    ping(): Promise<string>;
    status?: string;
    readonly isCluster?: boolean;
    nodes?(role: "master"): object[];
  },
): Promise<boolean | HealthDetail> {
  const why = notConnected(client);
  if (why !== undefined) return { status: "fail", message: why };
  if (client.isCluster && client.nodes) {
    // ioredis' nodes: clients of their own (typed loosely by the services' narrow Redis types).
    const problems = await clusterProblems(client.nodes("master") as HealthNode[]);
    return problems.length === 0 || { status: "fail", message: problems.join("; ") };
  }
  return (await client.ping()) === "PONG";
}

/**
 * Why a Redis client is not connected (`not connected (reconnecting): connect ECONNREFUSED …`,
 * with its last error when {@link createRedis} made it), or undefined when it is ready.
 */
export function notConnected(client: { status?: string }): string | undefined {
  if (client.status === undefined || client.status === "ready") return undefined;
  const why = lastErrors.get(client);
  return `not connected (${client.status})${why ? `: ${why}` : ""}`;
}

/** Create a Redis client for `target` (a URL, or a connection that may name a cluster). */
export function createRedis(target: string | RedisConnection, options: RedisOptions = {}): Redis {
  const conn = typeof target === "string" ? { url: target } : target;
  const client: Redis = conn.clusterNodes?.length
    ? createCluster(conn, options)
    : new SingleRedis(conn.url, {
      ...(options.name ? { connectionName: options.name } : {}),
      maxRetriesPerRequest: options.blocking ? null : 20,
      enableAutoPipelining: false,
      lazyConnect: false,
      retryStrategy: reconnectDelay,
    });
  client.on("error", (error: Error) => {
    const before = lastErrors.get(client);
    lastErrors.set(client, error.message);
    // ioredis goes on with database 0 when its SELECT fails: every key would land there.
    if (/DB index is out of range|invalid DB index/i.test(error.message)) {
      options.log?.error(
        "REDIS_URL selects a database this Redis does not have (see its 'databases' setting): fix the number after the host in REDIS_URL",
        { error: error.message, client: options.name },
      );
      Deno.exit(2);
    }
    // A refused user or password is refused on every retry: the service stopped later (exit 1 or
    // 2, depending on which command failed first) without naming the setting.
    if (/^(WRONGPASS|NOAUTH)\b/.test(error.message)) {
      options.log?.error(
        "Redis refused the user or password of REDIS_URL: fix them in REDIS_URL (redis://user:password@host:port)",
        { error: error.message, client: options.name },
      );
      Deno.exit(2);
    }
    // ioredis emits the same error on every retry; log changes only.
    if (error.message !== before) {
      options.log?.warn("redis error", { error: error.message, client: options.name });
    }
  });
  const watchMs = options.watchMs ?? (options.blocking ? 0 : REDIS_WATCH_MS);
  if (options.log && watchMs) watchAnswers(client, options.log, options.name, watchMs);
  client.on("ready", () => {
    if (lastErrors.delete(client)) options.log?.info("redis reconnected", { client: options.name });
    const log = options.log;
    if (log && !options.blocking && !evictionChecked) {
      evictionChecked = true;
      checkEviction(client, log).catch(() => {}); // INFO refused (a restricted user): no check
    }
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

/** The `hint` of a service's log lines while it waits for a Redis out of reach at start. */
export const REDIS_HINT = "is Redis running? check REDIS_URL (or REDIS_CLUSTER_NODES)";

/**
 * Make sure the data in Redis is partitioned into `partitions`: the first
 * service to start records it (`vigil:meta` → `partitions`); a service
 * configured with another count refuses to start, since it would read and
 * write the wrong stream partitions.
 *
 * @throws {ConfigError} naming both counts and what to do
 */
export async function ensurePartitions(
  redis: Pick<Redis, "hsetnx" | "hget">,
  metaKey: string,
  partitions: number,
): Promise<void> {
  await redis.hsetnx(metaKey, "partitions", String(partitions));
  const stored = Number(await redis.hget(metaKey, "partitions"));
  if (stored !== partitions) {
    throw new ConfigError(
      `VIGIL_PARTITIONS is ${partitions} but the streams in this Redis were written with ` +
        `${stored} partitions: set VIGIL_PARTITIONS=${stored}, or drain the pipeline and ` +
        `change it for every service (docs/scaling.md, "What is partitioned, and by what")`,
    );
  }
}
