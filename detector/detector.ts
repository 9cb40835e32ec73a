/**
 * The detector service: one consumer per event stream (logs, metrics,
 * transactions), each driving its processor (rules → PostgreSQL → alerts),
 * under a shard lease; plus the recovery pass that publishes stored but
 * unpublished anomalies, the scrape-time gauges, and the HTTP API.
 *
 * Sharding: with `DETECTOR_SHARDS = n`, instance `i` uses its own consumer
 * group (`detector-s<i>of<n>`), reads every entry, and keeps rule state only
 * for entities (service, user, status) whose hash mod n is i. Each window
 * therefore lives in exactly one instance; a second instance with the same
 * shard waits on the lease as a hot standby.
 *
 * @module
 */
import { fnv1a } from "@vigil/shared/hash";
import { backoffMs, sleep } from "@vigil/shared/lifecycle";
import type { Hono } from "hono";
import type { Redis } from "ioredis";
import { GROUPS, type Keys } from "@vigil/shared/keys";
import type { Logger } from "@vigil/shared/log";
import type { Tracer } from "@vigil/shared/tracing";
import type { Registry } from "@vigil/shared/metrics";
import { EVENT_TYPES, type EventType } from "@vigil/shared/schemas/event";
import { createEvaluateApp } from "./io/api.ts";
import { createRedisCheckpointStore } from "./io/checkpoint.ts";
import { createConsumer } from "./io/consumer.ts";
import { createEvaluator } from "./core/evaluator.ts";
import { createLease } from "./io/lease.ts";
import { createDetectorMetrics, createProcessor, type Processor } from "./io/processor.ts";
import { type Publisher, rowToAlert } from "./io/publisher.ts";
import { createRedisStreamClient } from "./io/redis_stream_client.ts";
import type { RulesConfig } from "./core/rules_config.ts";
import type { ZScoreState } from "./core/rules/status_zscore.ts";
import type { ScoreEngine } from "./core/score_engine.ts";
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
  /** Spans per event and anomaly when enabled (see {@link createProcessor}). */
  tracer?: Tracer;
}

/** The running detector. */
export interface Detector {
  /** Run until `signal` aborts; rejects if the lease is lost. */
  run(signal: AbortSignal): Promise<void>;
  /** Its HTTP routes (POST /api/alerts/evaluate), to mount on the ops app. */
  readonly api: Hono;
  readonly processors: Readonly<Record<EventType, Processor>>;
  readonly group: string;
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
  const tag = s.shards > 1 ? `s${s.shard}of${s.shards}` : "";
  const group = tag ? `${GROUPS.detector}-${tag}` : GROUPS.detector;
  const owns = shardOwner(s.shard, s.shards);
  const metrics = createDetectorMetrics(deps.registry);
  const processors = {} as Record<EventType, Processor>;
  for (const type of EVENT_TYPES) {
    processors[type] = createProcessor({
      type,
      evaluator: createEvaluator(type, { rules: deps.rules, engine: deps.engine, owns }),
      store,
      publisher,
      checkpoints: createRedisCheckpointStore(
        redis,
        keys.detectorState(tag ? `${type}:${tag}` : type),
      ),
      log,
      metrics,
      checkpointIntervalMs: s.checkpointIntervalMs,
      ...(deps.tracer ? { tracer: deps.tracer } : {}),
      maxAttempts: s.maxDeliveries,
      ioTimeoutMs: s.ioTimeoutMs,
      ...(deps.now ? { now: deps.now } : {}),
    });
  }

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

  async function republish(signal: AbortSignal): Promise<void> {
    for (;;) {
      signal.throwIfAborted();
      const { firing, resolved } = await store.unpublished(500);
      if (firing.length === 0 && resolved.length === 0) return;
      const alerts = [
        ...firing.map((r) => rowToAlert(r, "firing", {})),
        ...resolved.map((r) => rowToAlert(r, "resolved", {})),
      ];
      const appended = await publisher.publish(alerts, []);
      await store.markPublished(firing.map((r) => r.id), resolved.map((r) => r.id), Date.now());
      log.info("recovery: published stored anomalies", {
        rows: alerts.length,
        appended_now: appended.length,
        already_in_stream: alerts.length - appended.length,
      });
      if (firing.length < 500 && resolved.length < 500) return;
    }
  }

  const api = createEvaluateApp({
    config: deps.rules.transactions.status_zscore,
    owns,
    log,
    zscore() {
      const ev = processors.transactions.evaluator;
      const state = ev.ruleState("status_zscore") as ZScoreState | undefined;
      return state ? { state, watermark: ev.watermark() } : undefined;
    },
    ...(deps.now ? { now: deps.now } : {}),
  });

  return {
    processors,
    group,
    api,
    async run(outer) {
      const inner = new AbortController();
      const onAbort = () => inner.abort(outer.reason);
      outer.addEventListener("abort", onAbort, { once: true });
      const signal = inner.signal;
      let lost: string | null = null;
      const lease = createLease({
        redis,
        key: keys.key("detector", "lease", tag || "all"),
        owner: s.consumer,
        ttlMs: s.leaseTtlMs,
        log,
      });
      try {
        await lease.acquire(signal);
        const keeper = lease.keep(signal, (reason) => {
          lost = reason;
          log.error("lost the shard lease, stopping", { reason });
          inner.abort(new Error(`Cannot keep consuming: ${reason}`));
        });
        for (let attempt = 0;; attempt++) {
          try {
            await republish(signal);
            break;
          } catch (error) {
            if (signal.aborted) break;
            log.warn("cannot run the publication recovery pass, retrying", { error, attempt });
            await sleep(backoffMs(attempt, { baseMs: 200, capMs: 5000, random: () => 1 }), signal)
              .catch(() => {}); // an abort ends the wait; the next failure ends the loop
          }
        }
        log.info("detector consuming", {
          group,
          consumer: s.consumer,
          shard: s.shard,
          shards: s.shards,
        });
        await Promise.all(EVENT_TYPES.map((type) =>
          createConsumer({
            client: createRedisStreamClient(deps.streamRedis(type), keys),
            stream: keys.events(type),
            group,
            consumer: s.consumer,
            handler: processors[type],
            log,
            batchSize: s.batchSize,
            blockMs: s.blockMs,
            claimIdleMs: s.claimIdleMs,
            maxDeliveries: s.maxDeliveries,
            rebuildWindowMs: s.rebuildWindowMs,
          }).run(signal)
        ));
        // Let checkpoints being written land (a graceful stop replays less).
        await Promise.all(EVENT_TYPES.map((type) => processors[type].flush()));
        inner.abort();
        await keeper;
      } catch (error) {
        if (!signal.aborted) throw error;
      } finally {
        outer.removeEventListener("abort", onAbort);
        if (!lost) {
          try {
            await lease.release();
          } catch (error) {
            log.warn("cannot release lease", { error });
          }
        }
      }
      if (lost) throw new Error(`Cannot keep consuming: ${lost}`);
    },
  };
}
