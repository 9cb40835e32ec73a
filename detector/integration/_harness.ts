/**
 * Integration-test harness: builds a detector in process against the real
 * Redis (unique prefix) and PostgreSQL (fresh database), and helpers to write
 * stream entries and read results.
 *
 * @module
 */
import type postgres from "postgres";
import type { Redis } from "@vigil/shared/redis";
import { createRedis, type RedisConnection } from "@vigil/shared/redis";
import { GROUPS, type Keys } from "@vigil/shared/keys";
import { migrate } from "@vigil/shared/migrate";
import { Registry } from "@vigil/shared/metrics";
import { silentLogger } from "@vigil/tools/testing/log";
import { TEST_REDIS_URL, withRedis } from "@vigil/tools/testing/redis";
import { withPg } from "@vigil/tools/testing/pg";
import type { EventType } from "@vigil/shared/schemas/event";
import type { StreamKind } from "@vigil/shared/partitions";
import { type Alert, alertSchema } from "@vigil/shared/schemas/alert";
import { createDetector, type Detector, type DetectorSettings } from "../detector.ts";
import {
  appendBatch,
  type BatchItem,
  buildAppendCalls,
  ioredisAppendPort,
} from "@vigil/bridge/append";
import { classifyMessage } from "@vigil/bridge/classify";
import { createPublisher } from "../io/publisher.ts";
import { DEFAULT_RULES, type RulesConfig } from "../core/rules_config.ts";
import { type AnomalyStore, createStore } from "../io/store.ts";
import type { ScoreEngine } from "../core/score_engine.ts";

/** A running in-process detector. */
export interface Running {
  detector: Detector;
  registry: Registry;
  stop(): Promise<void>;
  done: Promise<void>;
}

/** What {@link startDetector} may change of the test detector. */
export interface StartOptions {
  settings?: Partial<DetectorSettings>;
  rules?: RulesConfig;
  engine?: ScoreEngine<unknown> | null;
  /** The store, made of the test database. @default {createStore({ sql })} */
  store?: (sql: postgres.Sql) => AnomalyStore;
}

/** Start a detector in process; `stop()` aborts it and closes its connections. */
export async function startDetector(
  ctx: {
    sql: postgres.Sql;
    keys: Keys;
    redis: Redis;
    /** Where the stream clients connect. @default {TEST_REDIS_URL} */
    connection?: RedisConnection;
  },
  options: StartOptions = {},
): Promise<Running> {
  await migrate(ctx.sql);
  const conns: Redis[] = [];
  const registry = new Registry();
  const detector = createDetector({
    redis: ctx.redis,
    streamRedis: () => {
      const c = createRedis(ctx.connection ?? TEST_REDIS_URL, { blocking: true });
      conns.push(c);
      return c;
    },
    store: options.store?.(ctx.sql) ?? createStore({ sql: ctx.sql }),
    publisher: await createPublisher({ redis: ctx.redis, keys: ctx.keys }),
    keys: ctx.keys,
    log: silentLogger(),
    registry,
    rules: options.rules ?? DEFAULT_RULES,
    engine: options.engine ?? null,
    settings: {
      member: `test-${crypto.randomUUID().slice(0, 6)}`,
      partitions: 1,
      batchSize: 500,
      blockMs: 100,
      claimIdleMs: 1000,
      maxDeliveries: 5,
      checkpointIntervalMs: 0,
      rebuildWindowMs: 600_000,
      leaseTtlMs: 3000,
      ioTimeoutMs: 10_000,
      ...options.settings,
    },
  });
  const controller = new AbortController();
  const done = detector.run(controller.signal);
  return {
    detector,
    registry,
    done,
    async stop() {
      controller.abort();
      await done.catch(() => {});
      for (const c of conns) c.disconnect();
    },
  };
}

/**
 * Run `fn` against one detector started in process on a fresh database and
 * key prefix; the detector is stopped afterwards, whatever `fn` did.
 */
export async function withDetector(
  options: StartOptions,
  fn: (ctx: { sql: postgres.Sql; redis: Redis; keys: Keys; d: Running }) => Promise<void>,
): Promise<void> {
  await withPg(({ sql }) =>
    withRedis(async ({ redis, keys }) => {
      const d = await startDetector({ sql, keys, redis }, options);
      try {
        await fn({ sql, redis, keys, d });
      } finally {
        await d.stop();
      }
    })
  );
}

let seq = 0;

/** Append events (objects) to the stream of `type` as the bridge would. */
export async function appendEvents(
  redis: Redis,
  keys: Keys,
  type: EventType,
  events: readonly Record<string, unknown>[],
  ingestTs = Date.now(),
): Promise<string[]> {
  const p = redis.pipeline();
  for (const e of events) {
    seq++;
    p.xadd(
      keys.events(type),
      "*",
      "data",
      JSON.stringify(e),
      "topic",
      type,
      "partition",
      "0",
      "offset",
      String(seq),
      "key",
      "",
      "ingest_ts",
      String(ingestTs),
      "traceparent",
      `00-${seq.toString(16).padStart(32, "0")}-00f067aa0ba902b7-01`,
    );
  }
  const r = (await p.exec()) ?? [];
  return r.map(([, id]) => String(id));
}

/** Alerts in the alerts stream, validated. */
export async function readAlerts(redis: Redis, keys: Keys): Promise<Alert[]> {
  const entries = await redis.xrange(keys.alerts(), "-", "+");
  return entries.map(([, fields]) => alertSchema.parse(JSON.parse(fields[1]!)));
}

/** Anomaly rows (rule, entity, severity, resolved). */
export async function readRows(
  sql: postgres.Sql,
): Promise<
  {
    id: string;
    rule: string;
    entity: string;
    severity: string;
    resolved: boolean;
    published: boolean;
  }[]
> {
  return await sql`
    SELECT id, rule, entity, severity, resolved_at IS NOT NULL AS resolved,
      published_at IS NOT NULL AS published
    FROM anomaly_events ORDER BY event_time, rule, entity`;
}

/** Pending count of the detector group on `type`'s stream (partition 0, or all of `partitions`). */
export async function pendingCount(
  redis: Redis,
  keys: Keys,
  type: StreamKind,
  partitions = 1,
): Promise<number> {
  let n = 0;
  for (let p = 0; p < partitions; p++) {
    try {
      const r = await redis.xpending(keys.events(type, p), GROUPS.detector) as [number];
      n += Number(r[0]);
    } catch {
      // no group yet on that partition: nothing delivered there
    }
  }
  return n;
}

/**
 * Has the detector group on `type`'s stream (partition 0) read up to
 * `lastId` and acknowledged everything it read?
 */
export async function consumedUpTo(
  redis: Redis,
  keys: Keys,
  type: StreamKind,
  lastId: string,
): Promise<boolean> {
  const groups = await redis.xinfo("GROUPS", keys.events(type)) as unknown[][];
  const g = groups.find((x) => x[1] === GROUPS.detector);
  return g?.[g.indexOf("last-delivered-id") + 1] === lastId &&
    (await pendingCount(redis, keys, type)) === 0;
}

/**
 * Append events the way the bridge does with `partitions` partitions: through
 * its classification (canonical form, routing fields) and its routing
 * (entity partitions, projections).
 */
export async function appendRouted(
  redis: Redis,
  keys: Keys,
  type: EventType,
  events: readonly Record<string, unknown>[],
  partitions: number,
): Promise<void> {
  const encoder = new TextEncoder();
  const items: BatchItem[] = events.map((e) => {
    seq++;
    return {
      offset: String(seq),
      classified: classifyMessage({
        topic: type,
        partition: 0,
        offset: String(seq),
        key: null,
        value: encoder.encode(JSON.stringify(e)),
      }),
    };
  });
  const calls = buildAppendCalls({ topic: type, partition: 0, items }, {
    keys,
    partitions,
    maxlen: 1_000_000,
    ingestTs: Date.now(),
  });
  await appendBatch(ioredisAppendPort(redis), calls);
}

/**
 * A migrated PostgreSQL, a Redis with its own prefix, and the anomaly store on
 * them: the setup of the tests of one I/O stage against the real servers.
 */
export function withStoreAndRedis(
  fn: (t: {
    sql: postgres.Sql;
    redis: Redis;
    keys: Keys;
    store: ReturnType<typeof createStore>;
  }) => Promise<void>,
): Promise<void> {
  return withPg(({ sql }) =>
    withRedis(async ({ redis, keys }) => {
      await migrate(sql);
      await fn({ sql, redis, keys, store: createStore({ sql }) });
    })
  );
}
