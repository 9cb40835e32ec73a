/**
 * The detector service. The event streams are partitioned
 * (shared/partitions.ts); each partition of each stream kind is a unit, and
 * the live detector instances share the units (io/assignment.ts: membership,
 * one lease per unit). For every unit it owns, an instance runs one
 * consumer (group `detector`, consumer name = the unit, so a new owner
 * re-reads its predecessor's pending entries at once) driving the unit's
 * pipeline (evaluate → persist → publish → checkpoint). Beside: the outbox
 * recovery that publishes stored but unpublished anomalies, the gauges, and
 * the consumers' health.
 *
 * @module
 */
import type { Redis } from "@vigil/shared/redis";
import { sleep, withTimeout } from "@vigil/shared/lifecycle";
import { GROUPS, type Keys } from "@vigil/shared/keys";
import type { Logger } from "@vigil/shared/log";
import type { Registry } from "@vigil/shared/metrics";
import { partitionOf, type StreamUnit, unitsFor } from "@vigil/shared/partitions";
import { isDataError } from "@vigil/shared/postgres_errors";
import { logRetry, retry } from "@vigil/shared/retry";
import { createStreamConsumer, type StreamConsumer } from "@vigil/shared/stream_consumer";
import { createRedisStreamPort } from "@vigil/shared/stream_port";
import { createEvaluator, type Reconfigured } from "./core/evaluator.ts";
import type { ZScoreState } from "./core/rules/status_zscore.ts";
import { adoptDispatched } from "./core/rules/status_dispatch.ts";
import type { Firing, Resolution } from "./core/rules/types.ts";
import { runStreamWatch } from "./io/stream_watch.ts";
import type { RulesConfig } from "./core/rules_config.ts";
import type { ScoreEngine } from "./core/score_engine.ts";
import type { StateLimits } from "./core/state_limits.ts";
import { leaseFence, runAssignment } from "./io/assignment.ts";
import type { MemberName } from "./io/member_name.ts";
import { createCheckpointer, createRedisCheckpointStore } from "./io/checkpoint.ts";
import { createDetectorMetrics, registerUnitGauges } from "./io/metrics.ts";
import { createPersistStage } from "./io/persist.ts";
import { createPipeline, type Pipeline, type PipelineTracing } from "./io/pipeline.ts";
import { createPublication } from "./io/publication.ts";
import type { Publisher } from "./io/publisher.ts";
import type { AnomalyRow, AnomalyStore } from "./io/store.ts";

/** The settings the detector needs (a subset of DetectorConfig). */
export interface DetectorSettings {
  /** This instance's member id (unique per process). */
  member: string;
  /** The process's hold of `member`, taken at start (io/member_name.ts): renewed every round. */
  memberName?: MemberName;
  /** Stream partitions (`VIGIL_PARTITIONS`). */
  partitions: number;
  batchSize: number;
  blockMs: number;
  claimIdleMs: number;
  maxDeliveries: number;
  checkpointIntervalMs: number;
  rebuildWindowMs: number;
  /** Membership and lease time to live: a dead instance's units move after this long. */
  leaseTtlMs: number;
  /** Storage/publish calls time out (and are retried) after this long. */
  ioTimeoutMs: number;
  /** A consumer without progress for this long, with work in hand, is unhealthy. @default {60000} */
  stuckAfterMs?: number;
  /** Streams are checked for silence (rules `no_data.stream`) this often. @default {10000} */
  streamCheckMs?: number;
  /** Bounds on per-entity state (core/state_limits.ts). @default {DEFAULT_STATE_LIMITS} */
  stateLimits?: Readonly<StateLimits>;
}

/** Dependencies of {@link createDetector}. */
export interface DetectorDeps {
  /** Connection for commands (publishing, checkpoints, leases, gauges). */
  redis: Redis;
  /** A dedicated connection for a unit's blocking reads. */
  streamRedis(unit: string): Redis;
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

/** A unit this instance consumes. */
interface Running {
  unit: StreamUnit;
  pipeline: Pipeline;
  consumer: StreamConsumer;
  stop: AbortController;
  done: Promise<void>;
}

/** The running detector. */
export interface Detector {
  /** Run until `signal` aborts. */
  run(signal: AbortSignal): Promise<void>;
  /** Health of the consumers: stuck ones make it fail. */
  health(): { ok: boolean; detail: Record<string, unknown> };
  /** The units this instance consumes now. */
  owned(): string[];
  /**
   * Put `rules` in force: every unit consumed here reconfigures its evaluator
   * (between two batches: evaluation is synchronous), and units started later
   * use them. Returns what changed per unit.
   */
  reconfigure(rules: RulesConfig): Record<string, Reconfigured>;
  /** The rules in force. */
  rules(): RulesConfig;
  /**
   * Store, count and publish an anomaly raised through the API, the way the
   * pipeline does (PostgreSQL insert as the outbox, then the alerts stream),
   * then let the live status_zscore rule adopt it (it resolves with the
   * rule's episode). Idempotent: a firing whose id is stored already
   * creates and publishes nothing (`created: false`), and returns that row as `stored`.
   */
  dispatch(firing: Firing, signal: AbortSignal): Promise<Dispatched>;
  /** Live status_zscore state of `status` when this instance owns it; "elsewhere" when another does. */
  zscore(status: string): { state: ZScoreState; watermark: number } | "elsewhere" | undefined;
}

/** What {@link Detector.dispatch} did. */
export interface Dispatched {
  created: boolean;
  published: boolean;
  /** The row stored earlier under the firing's id, when not created now. */
  stored?: AnomalyRow | undefined;
}

/** Create the detector. */
export function createDetector(deps: DetectorDeps): Detector {
  const { redis, keys, settings: s, store, publisher } = deps;
  const log = deps.log;
  const now = deps.now ?? Date.now;
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
  const units = new Map(unitsFor(s.partitions).map((u) => [u.name, u]));
  const running = new Map<string, Running>();
  let rules = deps.rules;

  registerUnitGauges(deps.registry, redis, keys, () => running.values());

  function start(name: string): void {
    const unit = units.get(name)!;
    const stop = new AbortController();
    const fence = leaseFence({
      redis,
      key: keys.detectorLease(unit),
      member: s.member,
      ttlMs: s.leaseTtlMs,
      log: log.with({ unit: name }),
      onLost: () => stop.abort(),
    });
    const evaluator = createEvaluator(unit.kind, {
      rules,
      engine: deps.engine,
      partitions: s.partitions,
      ...(s.stateLimits ? { limits: s.stateLimits } : {}),
    });
    const pipeline = createPipeline({
      type: unit.kind,
      stream: keys.events(unit.kind, unit.partition),
      evaluator,
      persist,
      publication,
      checkpointer: createCheckpointer({
        evaluator,
        store: createRedisCheckpointStore(redis, {
          key: keys.detectorState(unit),
          nextKey: keys.detectorStateNext(unit, s.member),
          leaseKey: keys.detectorLease(unit),
          member: s.member,
        }),
        intervalMs: s.checkpointIntervalMs,
        log: log.with({ unit: name }),
        now,
      }),
      log: log.with({ unit: name }),
      metrics,
      maxAttempts: s.maxDeliveries,
      ...(deps.tracing ? { tracing: deps.tracing } : {}),
      fence,
      now,
    });
    const reader = deps.streamRedis(name);
    const consumer = createStreamConsumer({
      port: createRedisStreamPort({ redis, reader, dlq: keys.dlq(), source: "detector", now }),
      stream: keys.events(unit.kind, unit.partition),
      group: GROUPS.detector,
      consumer: name,
      handler: pipeline,
      log,
      batchSize: s.batchSize,
      blockMs: s.blockMs,
      claimIdleMs: s.claimIdleMs,
      maxDeliveries: s.maxDeliveries,
      rebuildWindowMs: s.rebuildWindowMs,
      ordered: true,
      // No read once the lease is lost: entries read after another owner took over stayed pending.
      beforeRead: fence,
      isPermanent: isDataError,
      stuckAfterMs: s.stuckAfterMs ?? 60_000,
      // The pipeline counts what it rejects; the consumer dead-letters what was delivered too often.
      onAck: ({ maxDeliveries }) => {
        if (maxDeliveries > 0) metrics.deadLetters.inc({ type: unit.kind }, maxDeliveries);
      },
      now,
    });
    const done = consumer.run(stop.signal)
      .catch((error) => log.error("unit stopped on an error", { unit: name, error }))
      .then(() => pipeline.flush())
      .finally(() => {
        reader.disconnect();
        // Ended (asked to, lease lost at a batch's fence, or an error): no longer running.
        if (running.get(name)?.done === done) running.delete(name);
      });
    running.set(name, { unit, pipeline, consumer, stop, done });
  }

  async function stop(name: string): Promise<void> {
    const r = running.get(name);
    if (!r) return;
    r.stop.abort();
    await r.done; // its end takes it out of `running`
  }

  /**
   * Store, count and publish findings raised outside a unit's pipeline (the
   * API's dispatch, the stream watch), the way the pipeline does.
   */
  async function emit(
    firings: Firing[],
    resolutions: Resolution[],
    signal: AbortSignal,
    source: string,
  ): Promise<{ created: boolean; published: boolean }> {
    const stored = await persist(firings, resolutions, source, signal);
    const refused = stored.rejected[0];
    if (refused) throw refused.error;
    for (const row of stored.created) {
      metrics.anomalies.inc({ rule: row.rule, severity: row.severity });
      log.info("anomaly raised", {
        anomaly_id: row.id,
        rule: row.rule,
        severity: row.severity,
        source,
      });
    }
    for (const row of stored.resolved) {
      metrics.resolved.inc({ rule: row.rule, severity: row.severity });
    }
    const alerts = await publication.publish({
      firing: stored.created,
      resolved: stored.resolved,
      stages: { stored: now() },
    }, signal);
    return { created: stored.created.length > 0, published: alerts.length > 0 };
  }

  function zscoreOf(status: string): ReturnType<Detector["zscore"]> {
    const home = s.partitions > 1
      ? `transactions_by_status:${partitionOf(status, s.partitions)}`
      : "transactions:0";
    if (!rules.transactions.status_zscore.enabled) return undefined;
    const ev = running.get(home)?.pipeline.evaluator;
    if (!ev) return "elsewhere";
    const state = ev.ruleState("status_zscore") as ZScoreState | undefined;
    return state ? { state, watermark: ev.watermark() } : undefined;
  }

  return {
    owned: () => [...running.keys()].sort(),
    rules: () => rules,
    async dispatch(firing, signal) {
      const { created, published } = await emit([firing], [], signal, "api");
      // Not created: the rule adopts what is stored under the id (a request that differs is not it).
      const row = created
        ? undefined
        : await withTimeout(store.get(firing.id), s.ioTimeoutMs, "read the stored anomaly");
      const adopted = row
        ? {
          ...firing,
          entity: row.entity,
          severity: row.severity as Firing["severity"],
          eventTime: row.event_time.getTime(),
          details: row.details as Firing["details"],
        }
        : firing;
      const live = zscoreOf(adopted.entity);
      if (live && live !== "elsewhere") adoptDispatched(live.state, adopted, rules.cooldown);
      return { created, published, ...(row ? { stored: row } : {}) };
    },
    reconfigure(next) {
      rules = next;
      const done: Record<string, Reconfigured> = {};
      for (const [name, r] of running) done[name] = r.pipeline.evaluator.reconfigure(next);
      return done;
    },
    zscore: zscoreOf,
    health() {
      const detail: Record<string, unknown> = {};
      let ok = true;
      for (const [name, r] of running) {
        const st = r.consumer.status();
        detail[name] = st.detail;
        if (st.stuck) ok = false;
      }
      if (running.size === 0) detail.units = "none: every unit is consumed by another instance";
      return { ok, detail };
    },
    async run(signal) {
      await retry(() => publication.recover(signal), {
        signal,
        baseMs: 200,
        capMs: 5000,
        onRetry: logRetry(log, "publish the outbox"),
      }).catch((error) => {
        if (!signal.aborted) throw error;
      });
      const sweeper = (async () => {
        /** The outbox is swept for rows left unpublished this often. */
        const every = 30_000;
        while (!signal.aborted) {
          await sleep(every, signal).catch(() => {});
          if (signal.aborted) break;
          // Rows a timed-out write stored late, or a failed publication left behind.
          await publication.recover(signal, every).catch((error) => {
            if (!signal.aborted) log.warn("cannot sweep the outbox", { error });
          });
        }
      })();
      const watch = runStreamWatch({
        redis,
        keys,
        partitions: s.partitions,
        rules: () => rules,
        store,
        owns: (type) => running.has(`${type}:0`),
        emit: (firings, resolutions, sig) => emit(firings, resolutions, sig, "stream watch"),
        log,
        ...(s.streamCheckMs !== undefined ? { intervalMs: s.streamCheckMs } : {}),
        now,
      }, signal);
      log.info("detector running", { member: s.member, partitions: s.partitions });
      await runAssignment({
        redis,
        member: s.member,
        ...(s.memberName ? { name: s.memberName } : {}),
        membersKey: keys.detectorMembers(),
        units: [...units.keys()],
        leaseKey: (name) => keys.detectorLease(units.get(name)!),
        ttlMs: s.leaseTtlMs,
        control: {
          start,
          stop,
          isRunning: (name) => running.has(name),
        },
        log,
        onChange: (owned) => log.debug("units owned", { units: owned }),
      }, signal);
      await sweeper;
      await watch;
      await publication.flush();
    },
  };
}
