/**
 * The notifier service: take alerts in from the durable stream (the shared
 * stream consumer, group `notifier`), group them (batcher), and commit the
 * taken-in alerts, group changes and planned digests with their per-channel
 * notifications to PostgreSQL in one transaction. That commit is the
 * notifier's effect: the stream entries are acknowledged right after it.
 * PostgreSQL is the outbox from there on: one delivery loop per channel
 * sends what is pending (delivery.ts) and records every attempt.
 *
 * Intake and timers (group_wait, group_interval, repeat_interval) change the
 * same batcher state, so they run one at a time. Intake is re-runnable (the
 * state is replaced only after the commit, and already-stored entries are
 * skipped), so a batch PostgreSQL refuses for good (e.g. a NUL in an alert)
 * is split until the entry at fault is found and dead-lettered.
 *
 * @module
 */
import type postgres from "postgres";
import type { Redis } from "@vigil/shared/redis";
import type { Logger } from "@vigil/shared/log";
import type { Registry } from "@vigil/shared/metrics";
import type { Tracer } from "@vigil/shared/telemetry";
import { sleep } from "@vigil/shared/lifecycle";
import { isDataError } from "@vigil/shared/postgres_errors";
import { logRetry, retry } from "@vigil/shared/retry";
import { alertSchema } from "@vigil/shared/schemas/alert";
import { formatZodError } from "@vigil/shared/schemas/event";
import { activeSilences, type Silence, silencesDue } from "@vigil/shared/silences";
import {
  createStreamConsumer,
  type Delivery,
  type Rejected,
  type StreamConsumer,
} from "@vigil/shared/stream_consumer";
import { createRedisStreamPort } from "@vigil/shared/stream_port";
import { fieldsToObject } from "@vigil/shared/schemas/stream";
import {
  type BatcherOptions,
  type BatcherState,
  emptyState,
  ingest,
  type IngestItem,
  nextDueAt,
  tick,
} from "./batcher.ts";
import type { Channel } from "./channels/channel.ts";
import { type DeliveryOptions, digestsCounter, runChannel, Waker } from "./delivery.ts";
import { notAfter } from "./groups.ts";
import type { InhibitRule } from "./inhibit.ts";
import type { Route } from "./routes.ts";
import { acquireInstanceLock, type InstanceLock } from "./instance_lock.ts";
import type { NotifierStore } from "./store.ts";

/** Dependencies of {@link runNotifier}. */
export interface NotifierDeps {
  /** Commands. */
  redis: Redis;
  /** A dedicated connection for blocking reads. */
  reader: Redis;
  /** The alerts stream, the dead-letter stream, the group and this consumer's name. */
  stream: { key: string; dlq: string; group: string; consumer: string };
  store: NotifierStore;
  /** For silences (shared/silences.ts). */
  sql: postgres.Sql;
  /** A new client of one connection, for the instance lock (instance_lock.ts). */
  connectLock: () => postgres.Sql;
  channels: readonly Channel[];
  log: Logger;
  registry: Registry;
  /** A span per send attempt (continuing its first alert's trace) when given: tracing on. */
  tracer?: Tracer;
}

/** Options of {@link runNotifier}. */
export interface NotifierOptions {
  routes: readonly Route[];
  /** @default {DEFAULT_INHIBIT_RULES} */
  inhibitRules?: readonly InhibitRule[];
  flapThreshold: number;
  flapWindowMs: number;
  staleAfterMs: number;
  delivery: DeliveryOptions;
  maxDeliveries: number;
  claimIdleMs: number;
  /** Called once the notifier is consuming (after the pending scan). */
  onReady?: () => void;
}

/** Handle to a running notifier (for the HTTP API and tests). */
export interface NotifierHandle {
  /** Resolves when the notifier has stopped. */
  done: Promise<void>;
  /** The intake consumer's health. */
  health(): { ok: boolean; detail: string };
}

/** Start the notifier; it stops when `signal` aborts. */
export function runNotifier(
  deps: NotifierDeps,
  options: NotifierOptions,
  signal: AbortSignal,
): NotifierHandle {
  const { store, registry, log } = deps;
  const now = Date.now;
  const waker = new Waker();
  let silences: Silence[] = [];
  let silencesAt = -Infinity;
  let state: BatcherState = emptyState();
  /** Intake and timers run one at a time. */
  let turn: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = turn.then(fn);
    turn = run.catch(() => {});
    return run;
  };

  const digestsTotal = digestsCounter(registry);
  const alertsTotal = registry.counter(
    "vigil_notifier_alerts_total",
    "Alert stream entries taken in, by status (firing/resolved/silenced/duplicate/recorded/invalid)",
    ["status"],
  );
  // Only while active (`consumer` set): a standby reports 0, as dashboards sum the instances.
  registry.gauge(
    "vigil_notifier_pending_alerts",
    "Alerts taken in whose delivery is not final yet (waiting for their group's digest, or in a digest still pending on a channel)",
    [],
    async (g) => g.set(consumer ? await store.undelivered() : 0),
  );
  registry.gauge("vigil_notifier_groups", "Aggregation groups held", [], (g) => {
    g.set(consumer ? Object.keys(state.groups).length : 0);
  });
  const inhibitedTotal = registry.counter(
    "vigil_notifier_inhibited_total",
    "Alert stream entries left out of digests because a firing source alert inhibits them",
    [],
  );
  const deadLetters = registry.counter(
    "vigil_notifier_dead_letters_total",
    "Alert stream entries dead-lettered, by reason",
    ["reason"],
  );

  // The routes, inhibition rules, flapping and staleness of `options`, with the silences in force.
  const batcherOptions = (acknowledged?: ReadonlySet<string>): BatcherOptions => ({
    ...options,
    silences,
    ...(acknowledged ? { acknowledged } : {}),
  });

  async function refreshSilences(force = false): Promise<void> {
    if (!force && !silencesDue(silencesAt, now())) return;
    silences = await activeSilences(deps.sql, now());
    silencesAt = now();
  }

  /** Intake of one batch: validate, skip what is stored, group, commit. */
  async function intake(batch: readonly Delivery[]): Promise<Rejected[]> {
    const rejected: Rejected[] = [];
    const items: IngestItem[] = [];
    for (const d of batch) {
      if (!d.live) continue;
      const raw = fieldsToObject(d.fields)["alert"];
      if (raw === undefined) {
        rejected.push({ id: d.id, reason: "missing field: alert" });
        continue;
      }
      let json: unknown;
      try {
        json = JSON.parse(raw);
      } catch (error) {
        rejected.push({ id: d.id, reason: `invalid JSON: ${(error as Error).message}` });
        continue;
      }
      const parsed = alertSchema.safeParse(json);
      if (!parsed.success) {
        rejected.push({ id: d.id, reason: `invalid alert: ${formatZodError(parsed.error)}` });
        continue;
      }
      items.push({ streamId: d.id, alert: parsed.data });
    }
    if (items.length > 0) {
      await exclusive(async () => {
        const known = await store.knownStreamIds(items.map((i) => i.streamId));
        const fresh = items.filter((i) => !known.has(i.streamId));
        if (fresh.length === 0) return;
        await refreshSilences();
        const r = ingest(notAfter(state, now()), fresh, now(), batcherOptions());
        await store.commit({ items: fresh, result: r });
        state = r.state;
        // Each entry once: how it was settled (silenced, duplicate, recorded), else firing/resolved.
        const settled = new Map(r.settled.map((s) => [s.streamId, s]));
        for (const i of fresh) {
          const s = settled.get(i.streamId);
          alertsTotal.inc({ status: s?.disposition ?? i.alert.status });
          if (s?.disposition !== "recorded") continue;
          log.info("alert recorded, not notified (route without channel)", {
            alert_id: s.alertId,
            status: i.alert.status, // firing, resolved
            route: s.route,
          });
        }
        if (r.digests.length) waker.wake();
      });
    }
    if (rejected.length) {
      alertsTotal.inc({ status: "invalid" }, rejected.length);
      deadLetters.inc({ reason: "invalid" }, rejected.length);
      log.warn("dead-lettering invalid alerts", {
        count: rejected.length,
        first_reason: rejected[0]!.reason.slice(0, 200),
      });
    }
    return rejected;
  }

  /** The timers: digests that are due. */
  async function runTick(): Promise<void> {
    const t = now();
    state = notAfter(state, t); // the clock set back: no timer waits for it to catch up
    const due = nextDueAt(state, batcherOptions());
    if (due === null || due > t) return;
    await refreshSilences();
    // Acknowledged alerts are quiet: read which held alerts the web acknowledged.
    const held = Object.values(state.groups).flatMap((g) => Object.keys(g.alerts));
    const r = tick(state, t, batcherOptions(await store.acknowledged(held)));
    if (r.changed.length || r.digests.length || r.settled.length) {
      await store.commit({ items: [], result: r });
    }
    state = r.state;
    const inhibited = r.settled.filter((s) => s.disposition === "inhibited").length;
    if (inhibited) inhibitedTotal.inc(inhibited);
    for (const d of r.digests) {
      log.info("digest planned", {
        digest_id: d.id,
        kind: d.kind,
        group: d.groupKey,
        alerts: d.alerts.length,
        channels: d.channels,
      });
    }
    if (r.digests.length) waker.wake();
  }

  let consumer: StreamConsumer | undefined;
  let ready = false;
  const markReady = () => {
    if (!ready) options.onReady?.();
    ready = true;
  };

  /** Another notifier holds the instance lock: this one waits. */
  let standby = false;

  /** Run while this instance holds the lock (`signal` aborts when it stops or loses it). */
  async function active(signal: AbortSignal): Promise<void> {
    const channelNames = deps.channels.map((c) => c.name);
    // Start-up, retried until the dependencies answer.
    try {
      await retry(async () => {
        const failed = await store.failUnconfigured(channelNames);
        // Final, as a digest a channel refused: counted in digests_total{status="failed"}.
        for (const channel of failed) digestsTotal.inc({ channel, status: "failed" });
        if (failed.length) {
          log.warn("failed notifications of unconfigured channels", {
            count: failed.length,
            channels: [...new Set(failed)],
          });
        }
        state = await store.loadState();
        await refreshSilences(true);
      }, { signal, baseMs: 500, capMs: 10_000, onRetry: logRetry(log, "start") });
    } catch {
      return; // stopped while starting
    }
    const loops = deps.channels.map((channel) =>
      runChannel({ ...deps, channel, waker }, signal, options.delivery).catch((error) =>
        log.error("channel loop crashed", { channel: channel.name, error })
      )
    );
    const timers = (async () => {
      while (!signal.aborted) {
        await retry(() => exclusive(runTick), {
          signal,
          baseMs: 200,
          capMs: 10_000,
          onRetry: logRetry(log, "run the digest timers"),
        });
        const due = nextDueAt(state, batcherOptions());
        await sleep(due === null ? 1000 : Math.max(10, Math.min(1000, due - now())), signal);
      }
    })().catch(() => {}); // ends when stopped
    const { key, dlq, group } = deps.stream;
    consumer = createStreamConsumer({
      port: createRedisStreamPort({
        redis: deps.redis,
        reader: deps.reader,
        dlq,
        source: "notifier",
        now,
      }),
      stream: key,
      group,
      consumer: deps.stream.consumer,
      log,
      batchSize: 200, // entries per XREADGROUP
      blockMs: 1000,
      claimIdleMs: options.claimIdleMs,
      maxDeliveries: options.maxDeliveries,
      rerunnable: true,
      isPermanent: isDataError,
      stuckAfterMs: 60_000, // no progress this long with work in hand = unhealthy
      now,
      handler: {
        process: (batch) => intake(batch),
        idle: () => Promise.resolve(markReady()),
      },
      onAck({ maxDeliveries, refused }) {
        if (maxDeliveries > 0) deadLetters.inc({ reason: "max_deliveries" }, maxDeliveries);
        if (refused > 0) deadLetters.inc({ reason: "refused" }, refused);
        if (consumer?.status().running) markReady();
      },
    });
    await consumer.run(signal).catch((error) => {
      if (!signal.aborted) log.error("alert intake stopped", { error });
    });
    waker.wake();
    await Promise.all([...loops, timers]);
  }

  const done = (async () => {
    // One notifier at a time (instance_lock.ts): a second one stands by here.
    while (!signal.aborted) {
      let lock: InstanceLock;
      try {
        lock = await acquireInstanceLock(deps.connectLock, {
          log,
          signal,
          onWait: () => standby = true,
        });
      } catch {
        return; // stopped while waiting
      }
      standby = false;
      try {
        await active(AbortSignal.any([signal, lock.lost]));
      } finally {
        consumer = undefined;
        await lock.release();
      }
    }
  })();

  return {
    done,
    health() {
      if (standby) return { ok: true, detail: "standby: another notifier is running" };
      const st = consumer?.status();
      if (!st) return { ok: true, detail: "starting" };
      return { ok: !st.stuck, detail: st.detail };
    },
  };
}
