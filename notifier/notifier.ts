/**
 * The notifier service: consume alerts from the durable stream (consumer
 * group `notifier`), group them (batcher), store digests before sending,
 * deliver per channel with retries (delivery), and acknowledge a stream entry
 * only once every channel it routes to has accepted (or finally rejected)
 * every digest that accounts for it.
 *
 * Start-up: load the batcher state from PostgreSQL, re-read this consumer's
 * own pending entries (already-stored ones are skipped), then read new ones.
 * Periodically: claim entries other consumers left idle, dead-letter entries
 * delivered too often without being stored, acknowledge what is done.
 *
 * @module
 */
import type postgres from "postgres";
import type { Logger } from "@vigil/shared/log";
import type { Registry } from "@vigil/shared/metrics";
import type { Tracer } from "@vigil/shared/telemetry";
import { backoffMs, sleep } from "@vigil/shared/lifecycle";

import { alertSchema } from "@vigil/shared/schemas/alert";
import { formatZodError } from "@vigil/shared/schemas/event";
import { activeSilences, type Silence } from "@vigil/shared/silences";
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
import { type DeliveryOptions, runChannel, Waker } from "./delivery.ts";
import type { Route } from "./routes.ts";
import type { NotifierStore } from "./store.ts";
import type { AlertStream, StreamMessage } from "./stream.ts";

/** Retry delay of the loops below: the full exponential step, no jitter. */
const noJitter = () => 1;

/** Dependencies of {@link runNotifier}. */
export interface NotifierDeps {
  stream: AlertStream;
  store: NotifierStore;
  /** For silences (shared/silences.ts). */
  sql: postgres.Sql;
  channels: readonly Channel[];
  log: Logger;
  registry: Registry;
  now?: () => number;
  /** A span per send attempt (continuing its first alert's trace) when given: tracing on. */
  tracer?: Tracer;
}

/** Options of {@link runNotifier}. */
export interface NotifierOptions {
  routes: readonly Route[];
  flapThreshold: number;
  flapWindowMs: number;
  staleAfterMs: number;
  delivery: DeliveryOptions;
  maxDeliveries: number;
  claimIdleMs: number;
  /** Entries per XREADGROUP. @default {200} */
  batchSize?: number;
  /** Called once the notifier is consuming (after the pending scan). */
  onReady?: () => void;
}

/** Handle to a running notifier (for the HTTP API and tests). */
export interface NotifierHandle {
  /** Re-read silences before the next batch (after the API changed them). */
  silencesChanged(): void;
  /** Resolves when the notifier has stopped. */
  done: Promise<void>;
}

/** Start the notifier; it stops when `signal` aborts. */
export function runNotifier(
  deps: NotifierDeps,
  options: NotifierOptions,
  signal: AbortSignal,
): NotifierHandle {
  const { stream, store, registry } = deps;
  const log = deps.log;
  const now = deps.now ?? Date.now;
  const waker = new Waker();
  const batchSize = options.batchSize ?? 200;
  let silences: Silence[] = [];
  let silencesAt = -Infinity;
  let state: BatcherState = emptyState();

  const alertsTotal = registry.counter(
    "vigil_notifier_alerts_total",
    "Alert stream entries taken in, by status (firing/resolved/silenced/duplicate/invalid)",
    ["status"],
  );
  registry.gauge(
    "vigil_notifier_pending_alerts",
    "Alert stream entries not yet acknowledged (waiting for their digests to be delivered)",
    [],
    async (g) => g.set(await stream.pendingCount()),
  );
  registry.gauge("vigil_notifier_groups", "Aggregation groups held", [], (g) => {
    g.set(Object.keys(state.groups).length);
  });
  const deadLetters = registry.counter(
    "vigil_notifier_dead_letters_total",
    "Alert stream entries dead-lettered, by reason",
    ["reason"],
  );

  const batcherOptions = (): BatcherOptions => ({
    routes: options.routes,
    flapThreshold: options.flapThreshold,
    flapWindowMs: options.flapWindowMs,
    staleAfterMs: options.staleAfterMs,
    silences,
  });

  async function refreshSilences(force = false): Promise<void> {
    if (!force && now() - silencesAt < 1000) return;
    silences = await activeSilences(deps.sql, now());
    silencesAt = now();
  }

  // ---- acknowledgement ----
  let settling: Promise<void> | null = null;
  let settleAgain = false;
  function requestSettle(): void {
    if (settling) {
      settleAgain = true;
      return;
    }
    settling = (async () => {
      do {
        settleAgain = false;
        try {
          for (;;) {
            const ids = await store.ackable(500);
            if (ids.length === 0) break;
            await stream.ack(ids);
            await store.markAcked(ids);
            log.debug("acknowledged", { count: ids.length });
            if (ids.length < 500) break;
          }
        } catch (error) {
          log.warn("cannot acknowledge yet", { error });
        }
      } while (settleAgain && !signal.aborted);
      settling = null;
    })();
  }

  // ---- intake ----
  async function handle(messages: readonly StreamMessage[]): Promise<void> {
    const dead: { id: string; raw: string; reason: string }[] = [];
    const gone: string[] = [];
    const items: IngestItem[] = [];
    for (const m of messages) {
      if (!m.fields) {
        gone.push(m.id); // trimmed from the stream: nothing left to notify about
        continue;
      }
      const raw = m.fields["alert"];
      if (raw === undefined) {
        dead.push({ id: m.id, raw: JSON.stringify(m.fields), reason: "missing field: alert" });
        continue;
      }
      let json: unknown;
      try {
        json = JSON.parse(raw);
      } catch (error) {
        dead.push({ id: m.id, raw, reason: `invalid JSON: ${(error as Error).message}` });
        continue;
      }
      const parsed = alertSchema.safeParse(json);
      if (!parsed.success) {
        dead.push({ id: m.id, raw, reason: `invalid alert: ${formatZodError(parsed.error)}` });
        continue;
      }
      items.push({ streamId: m.id, alert: parsed.data });
    }
    if (dead.length) {
      await stream.deadLetter(dead);
      alertsTotal.inc({ status: "invalid" }, dead.length);
      deadLetters.inc({ reason: "invalid" }, dead.length);
      log.warn("dead-lettered invalid alerts", {
        count: dead.length,
        first_reason: dead[0]!.reason.slice(0, 200),
      });
    }
    if (gone.length) await stream.ack(gone);
    if (items.length === 0) return;
    const known = await store.knownStreamIds(items.map((i) => i.streamId));
    const fresh = items.filter((i) => !known.has(i.streamId));
    if (fresh.length === 0) return;
    await refreshSilences();
    const r = ingest(state, fresh, now(), batcherOptions());
    await store.commit({ items: fresh, result: r });
    state = r.state;
    const settledIds = new Set(r.settled.map((s) => s.streamId));
    for (const s of r.settled) alertsTotal.inc({ status: s.disposition });
    for (const i of fresh) {
      if (!settledIds.has(i.streamId)) alertsTotal.inc({ status: i.alert.status });
    }
    if (r.digests.length) waker.wake();
    if (r.settled.length) requestSettle();
  }

  async function runTick(): Promise<void> {
    const t = now();
    const due = nextDueAt(state, batcherOptions());
    if (due === null || due > t) return;
    await refreshSilences();
    const r = tick(state, t, batcherOptions());
    if (r.changed.length || r.digests.length || r.settled.length) {
      await store.commit({ items: [], result: r });
    }
    state = r.state;
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
    if (r.settled.length) requestSettle();
  }

  async function scanOwnPending(): Promise<void> {
    let from = "0";
    for (;;) {
      const page = await stream.read(from, batchSize, null);
      if (page.length === 0) return;
      await handle(page);
      from = page[page.length - 1]!.id;
    }
  }

  async function claimAndDeadLetter(): Promise<void> {
    const idle = await stream.idlePending(options.claimIdleMs, 100);
    if (idle.length === 0) return;
    const known = await store.knownStreamIds(idle.map((p) => p.id));
    const unknown = idle.filter((p) => !known.has(p.id));
    if (unknown.length === 0) return;
    const claimed = await stream.claim(unknown.map((p) => p.id), options.claimIdleMs);
    const deliveries = new Map(unknown.map((p) => [p.id, p.deliveries + 1]));
    const poison = claimed.filter((m) => (deliveries.get(m.id) ?? 0) > options.maxDeliveries);
    if (poison.length) {
      await stream.deadLetter(poison.map((m) => ({
        id: m.id,
        raw: m.fields ? (m.fields["alert"] ?? JSON.stringify(m.fields)) : "",
        reason: `delivered ${deliveries.get(m.id)} times without being processed`,
      })));
      deadLetters.inc({ reason: "max_deliveries" }, poison.length);
      log.warn("dead-lettered entries after too many deliveries", { count: poison.length });
    }
    const rest = claimed.filter((m) => !poison.includes(m));
    if (rest.length) {
      log.info("claimed idle alert entries", { count: rest.length });
      await handle(rest);
    }
  }

  const done = (async () => {
    const channelNames = deps.channels.map((c) => c.name);
    // Start-up, retried until the dependencies answer.
    for (let attempt = 0; !signal.aborted; attempt++) {
      try {
        await stream.ensureGroup();
        const failed = await store.failUnconfigured(channelNames);
        if (failed) log.warn("failed notifications of unconfigured channels", { count: failed });
        state = await store.loadState();
        await refreshSilences(true);
        break;
      } catch (error) {
        log.error("cannot start, retrying", { error, attempt });
        await sleep(backoffMs(attempt, { baseMs: 500, capMs: 10_000, random: noJitter }), signal)
          .catch(() => {});
      }
    }
    const loops = deps.channels.map((channel) =>
      runChannel(
        {
          channel,
          store,
          log,
          registry,
          waker,
          onSettled: requestSettle,
          ...(deps.tracer ? { tracer: deps.tracer } : {}),
        },
        signal,
        options.delivery,
      ).catch((error) => log.error("channel loop crashed", { channel: channel.name, error }))
    );

    let needScan = true;
    let ready = false;
    let lastHousekeeping = now();
    let failures = 0;
    requestSettle();
    while (!signal.aborted) {
      try {
        if (needScan) {
          await scanOwnPending();
          needScan = false;
          if (!ready) {
            ready = true;
            options.onReady?.();
          }
        }
        await runTick();
        const due = nextDueAt(state, batcherOptions());
        const wait = due === null ? 1000 : Math.max(0, Math.min(1000, due - now()));
        const messages = await stream.read(">", batchSize, wait > 0 ? wait : null);
        if (messages.length) await handle(messages);
        if (now() - lastHousekeeping >= Math.min(5000, options.claimIdleMs / 2)) {
          lastHousekeeping = now();
          await claimAndDeadLetter();
          requestSettle();
        }
        failures = 0;
      } catch (error) {
        if (signal.aborted) break;
        failures++;
        needScan = true; // the failed batch stays pending: re-read it
        log.error("notifier loop failed, retrying", { error, failures });
        await sleep(backoffMs(failures, { baseMs: 200, capMs: 10_000, random: noJitter }), signal)
          .catch(() => {});
      }
    }
    waker.wake();
    await Promise.all(loops);
    await settling;
  })();

  return {
    silencesChanged() {
      silencesAt = -Infinity;
    },
    done,
  };
}
