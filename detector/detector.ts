/**
 * The detector service: one consumer per event stream (logs, metrics,
 * transactions), each driving its pipeline (evaluate → persist → publish →
 * checkpoint), under a shard lease; the outbox recovery that publishes
 * stored but unpublished anomalies; the scrape-time gauges; the health of
 * the consumers.
 *
 * Sharding: with `DETECTOR_SHARDS = n`, instance `i` uses its own consumer
 * group (`detector-s<i>of<n>`), reads every entry, and keeps rule state only
 * for entities (service, user, status) whose hash mod n is i. Each window
 * therefore lives in exactly one instance; a second instance with the same
 * shard waits on the lease as a hot standby, and an instance that loses its
 * lease (another took it over) stops consuming and stands by again.
 *
 * @module
 */
import { fnv1a } from "@vigil/shared/hash";
import { sleep } from "@vigil/shared/lifecycle";
import type { Redis } from "ioredis";
import { GROUPS, type Keys } from "@vigil/shared/keys";
import type { Logger } from "@vigil/shared/log";
import type { Registry } from "@vigil/shared/metrics";
import { isDataError } from "@vigil/shared/postgres_errors";
import { logRetry, retry } from "@vigil/shared/retry";
import { EVENT_TYPES, type EventType } from "@vigil/shared/schemas/event";
import { createStreamConsumer, type StreamConsumer } from "@vigil/shared/stream_consumer";
import { createRedisStreamPort } from "@vigil/shared/stream_port";
import { createEvaluator } from "./core/evaluator.ts";
import type { RulesConfig } from "./core/rules_config.ts";
import type { ScoreEngine } from "./core/score_engine.ts";
import { createCheckpointer, createRedisCheckpointStore } from "./io/checkpoint.ts";
import { createLease } from "./io/lease.ts";
import { createDetectorMetrics } from "./io/metrics.ts";
import { createPersistStage } from "./io/persist.ts";
import { createPipeline, type Pipeline, type PipelineTracing } from "./io/pipeline.ts";
import { createPublication } from "./io/publication.ts";
import type { Publisher } from "./io/publisher.ts";
import type { AnomalyStore } from "./io/store.ts";

/** The settings the detector needs (a subset of DetectorConfig). */
export interface DetectorSettings {
  consumer: string;
  batchSize: number;
  blockMs: number;
  claimIdleMs: number;
  maxDeliveries: number;
  checkpointIntervalMs: number;
  rebuildWindowMs: number;
  shard: number;
  shards: number;
  leaseTtlMs: number;
  /** Storage/publish calls time out (and are retried) after this long. */
  ioTimeoutMs: number;
  /** A consumer without progress for this long, with work in hand, is unhealthy. @default {60000} */
  stuckAfterMs?: number;
  /** The outbox is swept for rows left unpublished this often. @default {30000} */
  outboxIntervalMs?: number;
}

/** Dependencies of {@link createDetector}. */
export interface DetectorDeps {
  /** Connection for commands (publishing, checkpoints, lease, gauges). */
  redis: Redis;
  /** A dedicated connection per stream for blocking reads. */
  streamRedis(type: EventType): Redis;
  store: AnomalyStore;
  publisher: Publisher;
  keys: Keys;
  log: Logger;
  registry: Registry;
  rules: RulesConfig;
  engine: ScoreEngine<unknown> | null;
  settings: DetectorSettings;
  now?: () => number;
  tracing?: PipelineTracing;
}

/** The running detector. */
export interface Detector {
  /** Run until `signal` aborts. */
  run(signal: AbortSignal): Promise<void>;
  /** Health of the consumers: stuck ones make it fail. */
  health(): { ok: boolean; detail: Record<string, unknown> };
  readonly pipelines: Readonly<Record<EventType, Pipeline>>;
  readonly group: string;
  /** Does this shard own `entity`'s state? */
  owns(entity: string): boolean;
}

/** Ownership predicate of shard `shard` of `shards`. */
export function shardOwner(shard: number, shards: number): (entity: string) => boolean {
  if (shards <= 1) return () => true;
  return (entity) => fnv1a(entity) % shards === shard;
}

/** Create the detector. */
export function createDetector(deps: DetectorDeps): Detector {
  const { redis, keys, settings: s, store, publisher } = deps;
  const log = deps.log;
  const now = deps.now ?? Date.now;
  const tag = s.shards > 1 ? `s${s.shard}of${s.shards}` : "";
  const group = tag ? `${GROUPS.detector}-${tag}` : GROUPS.detector;
  const owns = shardOwner(s.shard, s.shards);
  const metrics = createDetectorMetrics(deps.registry);
  const onRetry = (op: string) => metrics.retries.inc({ op });
  const publication = createPublication({
    publisher,
    store,
    log,
    ioTimeoutMs: s.ioTimeoutMs,
    onRetry,
    now,
  });
  const persist = createPersistStage({ store, log, ioTimeoutMs: s.ioTimeoutMs, onRetry });
  const pipelines = {} as Record<EventType, Pipeline>;
  for (const type of EVENT_TYPES) {
    const evaluator = createEvaluator(type, { rules: deps.rules, engine: deps.engine, owns });
    pipelines[type] = createPipeline({
      type,
      evaluator,
      persist,
      publication,
      checkpointer: createCheckpointer({
        evaluator,
        store: createRedisCheckpointStore(redis, keys.detectorState(tag ? `${type}:${tag}` : type)),
        intervalMs: s.checkpointIntervalMs,
        log: log.with({ type }),
        now,
      }),
      log,
      metrics,
      maxAttempts: s.maxDeliveries,
      ...(deps.tracing ? { tracing: deps.tracing } : {}),
      now,
    });
  }
  const consumers = new Map<EventType, StreamConsumer>();
  let standby = true;

  deps.registry.gauge(
    "vigil_detector_stream_length",
    "Entries in each event stream",
    ["type"],
    async (g) => {
      const p = redis.pipeline();
      for (const type of EVENT_TYPES) p.xlen(keys.events(type));
      const r = (await p.exec()) ?? [];
      EVENT_TYPES.forEach((type, i) => g.set({ type }, Number(r[i]?.[1] ?? 0)));
    },
  );
  deps.registry.gauge(
    "vigil_detector_pending",
    "Entries delivered to the detector group and not yet acknowledged (XPENDING)",
    ["type"],
    async (g) => {
      const p = redis.pipeline();
      for (const type of EVENT_TYPES) p.xpending(keys.events(type), group);
      const r = (await p.exec()) ?? [];
      EVENT_TYPES.forEach((type, i) => {
        const [error, value] = r[i] ?? [];
        g.set({ type }, error ? 0 : Number((value as unknown[] | undefined)?.[0] ?? 0));
      });
    },
  );

  /** Consume every stream until `signal` aborts. */
  async function consume(signal: AbortSignal): Promise<void> {
    await retry(() => publication.recover(signal), {
      signal,
      baseMs: 200,
      capMs: 5000,
      onRetry: logRetry(log, "publish the outbox"),
    }).catch((error) => {
      if (!signal.aborted) throw error;
    });
    const sweeper = (async () => {
      const every = s.outboxIntervalMs ?? 30_000;
      while (!signal.aborted) {
        await sleep(every, signal).catch(() => {});
        if (signal.aborted) break;
        // Rows a timed-out write stored late, or a failed publication left behind.
        await publication.recover(signal, every).catch((error) => {
          if (!signal.aborted) log.warn("cannot sweep the outbox", { error });
        });
      }
    })();
    log.info("detector consuming", {
      group,
      consumer: s.consumer,
      shard: s.shard,
      shards: s.shards,
    });
    await Promise.all(EVENT_TYPES.map((type) => {
      const reader = deps.streamRedis(type);
      const port = createRedisStreamPort({
        redis,
        reader,
        dlq: keys.dlq(),
        source: "detector",
        now,
      });
      const consumer = createStreamConsumer({
        port,
        stream: keys.events(type),
        group,
        consumer: s.consumer,
        handler: pipelines[type],
        log,
        batchSize: s.batchSize,
        blockMs: s.blockMs,
        claimIdleMs: s.claimIdleMs,
        maxDeliveries: s.maxDeliveries,
        rebuildWindowMs: s.rebuildWindowMs,
        ordered: true,
        isPermanent: isDataError,
        stuckAfterMs: s.stuckAfterMs ?? 60_000,
        now,
      });
      consumers.set(type, consumer);
      return consumer.run(signal);
    }));
    // Let checkpoints and publication records being written land (a graceful stop replays less).
    await Promise.all(EVENT_TYPES.map((type) => pipelines[type].flush()));
    await sweeper;
  }

  return {
    pipelines,
    group,
    owns,
    health() {
      const detail: Record<string, unknown> = {};
      let ok = true;
      for (const [type, c] of consumers) {
        const st = c.status();
        detail[type] = st.stuck
          ? `stuck: no progress for ${Math.round(st.sinceProgressMs / 1000)} s (${
            st.lastError ?? "processing a batch"
          })`
          : st.running
          ? "ok"
          : "starting";
        if (st.stuck) ok = false;
      }
      if (standby) detail.lease = "standing by (another instance holds the lease)";
      return { ok, detail };
    },
    async run(outer) {
      const lease = createLease({
        redis,
        key: keys.key("detector", "lease", tag || "all"),
        owner: s.consumer,
        ttlMs: s.leaseTtlMs,
        log,
      });
      while (!outer.aborted) {
        standby = true;
        try {
          await lease.acquire(outer);
        } catch {
          break; // aborted while standing by
        }
        standby = false;
        const inner = new AbortController();
        const onAbort = () => inner.abort(outer.reason);
        outer.addEventListener("abort", onAbort, { once: true });
        let lost: string | null = null;
        const keeper = lease.keep(inner.signal, (reason) => {
          lost = reason;
          log.error("lost the lease, stopping consumption and standing by", { reason });
          inner.abort(new Error(`Cannot keep consuming: ${reason}`));
        });
        try {
          await consume(inner.signal);
        } finally {
          outer.removeEventListener("abort", onAbort);
          inner.abort();
          await keeper;
          consumers.clear();
        }
        if (!lost) {
          await lease.release().catch((error) => log.warn("cannot release lease", { error }));
          break;
        }
      }
    },
  };
}
