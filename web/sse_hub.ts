/**
 * Live fan-out: ONE Redis Pub/Sub subscription (`vigil:alerts:live`, and
 * `vigil:acks:live`: acknowledgements made on any web instance) serves every
 * connected SSE client. Each message is validated once, serialised once and
 * handed to every client's queue (event `alert` or `ack`); a client whose queue overflows (it
 * does not read) is dropped. While clients are connected, a small stats
 * heartbeat is computed once per interval and sent to all of them.
 *
 * @module
 */
import type { SSEStreamingApi } from "hono/streaming";
import type { z } from "zod";
import { alertSchema } from "@vigil/shared/schemas/alert";
import { formatZodError } from "@vigil/shared/schemas/event";
import type { Logger } from "@vigil/shared/log";
import type { HealthDetail } from "@vigil/shared/http/ops_app";
import { notConnected } from "@vigil/shared/redis";
import { ackEventSchema } from "./api_responses.ts";
import type { WebMetrics } from "./metrics.ts";

/** One server-sent event. */
export interface SseMessage {
  event: string;
  data: string;
}

/** The Redis commands of the dedicated subscriber connection. */
export interface PubSubClient {
  subscribe(...channels: string[]): Promise<unknown>;
  unsubscribe(...channels: string[]): Promise<unknown>;
  /**
   * `message` (channel, message); `ready`: connected (again: ioredis then re-subscribes);
   * `close`: the connection closed.
   */
  on(event: "message" | "ready" | "close", listener: (...args: string[]) => void): unknown;
  off(event: "message" | "ready" | "close", listener: (...args: string[]) => void): unknown;
  /** Connection state (ioredis: "ready" when connected; it re-subscribes after a reconnect). */
  readonly status?: string;
}

/** A connected client as the hub sees it. */
export interface HubClient {
  /** Queue a message (must not block). */
  send(message: SseMessage): void;
  /** End the client's stream (hub closing, or client too slow). */
  close(reason: string): void;
}

/** The fan-out hub. */
export type SseHub = ReturnType<typeof createSseHub>;

/** Options for {@link createSseHub}. */
export interface SseHubOptions {
  subscriber: PubSubClient;
  /** Channel of live alerts (event `alert`). */
  channel: string;
  /** Channel of acknowledgements (event `ack`). */
  ackChannel: string;
  log: Logger;
  metrics: WebMetrics;
  /** Most clients at once. @default {5000} */
  maxClients?: number;
  /** Stats heartbeat; omitted = none. */
  heartbeat?: { intervalMs: number; collect: () => Promise<unknown> };
  /** @default {Date.now} */
  now?: () => number;
}

/** Create the hub (not yet subscribed: call `start()`). */
export function createSseHub(options: SseHubOptions) {
  const { subscriber, channel, log, metrics } = options;
  const maxClients = options.maxClients ?? 5000;
  const clients = new Set<HubClient>();
  let timer: ReturnType<typeof setInterval> | undefined;
  let collecting = false;
  let closed = false;
  /** `start()` called (`subscribing`), and its subscription made (`started`). */
  let subscribing = false;
  let started = false;
  /** The latest heartbeat, sent to clients as they connect. */
  let lastStats: SseMessage | undefined;
  const now = options.now ?? Date.now;
  /** When the subscriber's connection closed, until it is ready again. */
  let cutAt: number | undefined;
  /**
   * The subscriber's connection closed: no alert reaches the pages until it is back, and they
   * said "Live" meanwhile. Their streams end, so they say "Reconnecting…".
   */
  const onClose = () => {
    cutAt ??= now();
    if (!started || closed) return;
    for (const c of [...clients]) c.close("live alerts were cut");
  };

  const broadcast = (message: SseMessage) => {
    for (const c of clients) c.send(message);
  };

  /** What each channel carries: its event, schema and, for alerts, its counter. */
  const sources = new Map<string, { event: string; schema: z.ZodType; counted: boolean }>([
    [channel, { event: "alert", schema: alertSchema, counted: true }],
    [options.ackChannel, { event: "ack", schema: ackEventSchema, counted: false }],
  ]);
  const channels = [...sources.keys()];

  const onMessage = (ch: string, text: string) => {
    const source = sources.get(ch);
    if (!source) return;
    const { event, counted } = source;
    const what = event === "alert" ? "live alert" : "live acknowledgement";
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      if (counted) metrics.alertsReceived.inc({ result: "invalid" });
      log.warn(`${what} is not JSON; skipped`, { bytes: text.length });
      return;
    }
    const parsed = source.schema.safeParse(raw);
    if (!parsed.success) {
      if (counted) metrics.alertsReceived.inc({ result: "invalid" });
      log.warn(`${what} is invalid; skipped`, { reason: formatZodError(parsed.error) });
      return;
    }
    if (counted) metrics.alertsReceived.inc({ result: "ok" });
    broadcast({ event, data: JSON.stringify(parsed.data) });
  };

  /**
   * The subscriber connected again after it was cut (a Redis restart or failover, the pubsub
   * output buffer limit): what was published meanwhile never arrives, and the pages would say
   * "Live" without it. Their streams end, so they reconnect and read the list again.
   */
  const onReady = () => {
    cutAt = undefined;
    if (!started || closed || clients.size === 0) return;
    log.warn("live subscription was cut and is back; ending live streams so pages reload", {
      clients: clients.size,
    });
    for (const c of [...clients]) c.close("live alerts were interrupted");
  };

  const beat = async () => {
    if (collecting || !options.heartbeat || clients.size === 0) return;
    collecting = true;
    try {
      const stats = await options.heartbeat.collect();
      lastStats = {
        event: "stats",
        data: JSON.stringify({ ts: new Date().toISOString(), clients: clients.size, stats }),
      };
      broadcast(lastStats);
    } catch (error) {
      log.warn("heartbeat stats failed", { error });
      lastStats = undefined; // not greeted with figures from before the failure
      // Still a beat: the page treats a stream silent for 45 s as dead, and dropped and
      // reconnected it every 45 s while PostgreSQL was out of reach.
      broadcast({ event: "ping", data: JSON.stringify({ ts: new Date().toISOString() }) });
    } finally {
      collecting = false;
    }
  };

  const updateTimer = () => {
    metrics.sseClients.set(clients.size);
    if (clients.size > 0 && timer === undefined && options.heartbeat && !closed) {
      timer = setInterval(beat, options.heartbeat.intervalMs);
      void beat(); // first client after a quiet period: fresh numbers now, not in one interval
    } else if (clients.size === 0 && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
      // No beats until the next client: these figures grow old, and the first page to come
      // back would be greeted with them (its counters going back until the fresh beat).
      lastStats = undefined;
    }
  };

  /**
   * The health check: fails before `start`, after `close`, and while the subscriber is not
   * connected, saying since when and why (`live alerts cut for 12 s: subscriber not connected
   * (reconnecting): connect ECONNREFUSED …`).
   */
  const health = (): true | HealthDetail => {
    if (closed) return { status: "fail", message: "shutting down" };
    if (!started) return { status: "fail", message: "not subscribed to live alerts yet" };
    const why = notConnected(subscriber);
    if (why === undefined) return true;
    const seconds = Math.round((now() - (cutAt ??= now())) / 1000);
    return { status: "fail", message: `live alerts cut for ${seconds} s: subscriber ${why}` };
  };

  return {
    /** Connected clients. */
    get size() {
      return clients.size;
    },
    /** Most clients at once. */
    capacity: maxClients,
    /**
     * Started (or subscribing: Redis out of reach at start), not closed, and not subscribed or
     * the subscriber's connection is not ready: no live alert can arrive, so `/api/live` refuses
     * new streams (`503`) until it is back.
     */
    get cut() {
      return subscribing && !closed && (!started || notConnected(subscriber) !== undefined);
    },
    health,
    /** Subscribe to the channel; call once before serving. */
    async start(): Promise<void> {
      subscribing = true;
      subscriber.on("message", onMessage);
      subscriber.on("close", onClose);
      await subscriber.subscribe(...channels);
      subscriber.on("ready", onReady);
      started = true;
      log.info("subscribed to live alerts", { channels });
    },
    /**
     * Add a client; returns its removal function (idempotent).
     *
     * @throws {RangeError} "Cannot add live client: …" when the hub is full or closed
     */
    add(client: HubClient): () => void {
      if (closed) throw new RangeError("Cannot add live client: shutting down");
      if (clients.size >= maxClients) {
        throw new RangeError(`Cannot add live client: ${maxClients} clients already connected`);
      }
      clients.add(client);
      if (lastStats) client.send(lastStats);
      updateTimer();
      return () => {
        if (clients.delete(client)) updateTimer();
      };
    },
    /** Unsubscribe, stop the heartbeat and close every client. Idempotent. */
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      subscriber.off("message", onMessage);
      subscriber.off("ready", onReady);
      subscriber.off("close", onClose);
      // Not connected (Redis out of reach), an UNSUBSCRIBE waits for it: every stop then took
      // the lifecycle's 10 s and a forced exit. The connection closes after this anyway.
      if (notConnected(subscriber) === undefined) {
        try {
          await subscriber.unsubscribe(...channels);
        } catch (error) {
          log.warn("unsubscribe failed", { error });
        }
      }
      for (const c of [...clients]) c.close("server shutting down");
      clients.clear();
      metrics.sseClients.set(0);
    },
  };
}

/** The part of Hono's SSE stream a live client uses. */
export type SseSink = Pick<SSEStreamingApi, "writeSSE" | "onAbort" | "abort" | "aborted">;

/**
 * Serve one live client until it disconnects or the hub drops it: register
 * with the hub, write queued messages in order, unregister on abort.
 *
 * @param options.maxQueue messages queued before the client counts as stuck @default {1000}
 */
export async function serveLiveClient(
  hub: SseHub,
  sink: SseSink,
  options: { metrics: WebMetrics; maxQueue?: number },
): Promise<void> {
  const maxQueue = options.maxQueue ?? 1000;
  const queue: SseMessage[] = [];
  let done = false;
  /** Resolves the writer's wait for a message (calling it again, or before a wait, is harmless). */
  let wake = () => {};
  const stop = () => {
    if (done) return;
    done = true;
    remove();
    wake();
    // Ends the stream now: cancels a write blocked on a client that does not read.
    if (!sink.aborted) sink.abort();
  };
  const remove = hub.add({
    send(message) {
      if (done) return;
      // A client that does not read is dropped rather than buffered without bound.
      if (queue.length >= maxQueue) return stop();
      queue.push(message);
      wake();
    },
    close: stop,
  });
  sink.onAbort(stop);
  try {
    while (!done && !sink.aborted) {
      const next = queue.shift();
      if (next === undefined) {
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      await sink.writeSSE(next);
      options.metrics.sseMessages.inc({ event: next.event });
    }
  } finally {
    remove();
  }
}
