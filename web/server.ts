/**
 * Build and start the whole web service from its config: Redis (commands +
 * one subscriber), PostgreSQL (migrated at start), the SSE hub, the app and
 * the HTTP server. Used by main.ts, the browser test and the benchmark.
 *
 * @module
 */
import { createS3Client } from "@vigil/archive/store";
import { connectPostgres } from "@vigil/shared/postgres";
import { httpServerOptions } from "@vigil/shared/config";
import { serve } from "@vigil/shared/http/serve";
import { createKeys } from "@vigil/shared/keys";
import type { Logger } from "@vigil/shared/log";
import { Registry } from "@vigil/shared/metrics";
import { migrateAtStart } from "@vigil/shared/migrate";
import { createRedis, REDIS_HINT, redisConnection } from "@vigil/shared/redis";
import { ABORTED, untilAborted, withTimeout } from "@vigil/shared/lifecycle";
import { createApp, WEB_REQUEST_DEADLINE_MS } from "./app.ts";
import { createDirLister, createS3Lister } from "./archive_lookup.ts";
import type { WebConfig } from "./config.ts";
import { createWebMetrics, UNROUTED } from "./metrics.ts";
import { createSseHub, type SseHub } from "./sse_hub.ts";
import { loadStaticAssets } from "./static.ts";
import { heartbeatStats } from "./store.ts";

/** How long a start waits for its live-alerts subscription before it listens without. */
const SUBSCRIBE_WAIT_MS = 5000;

/** A running web service. */
export interface WebServer {
  readonly port: number;
  /** Stop: end live streams, drain HTTP, close clients. Idempotent. */
  close(): Promise<void>;
}

/**
 * Start the web service.
 *
 * @throws {Error} when PostgreSQL is unreachable or the page files are missing
 */
export async function startWebServer(
  config: WebConfig,
  options: {
    log: Logger;
    /** Stops waiting for PostgreSQL at start. */
    signal?: AbortSignal;
  },
): Promise<WebServer> {
  const { log } = options;
  const keys = createKeys(config.VIGIL_PREFIX);
  const assets = await loadStaticAssets();
  const sql = connectPostgres(config.DATABASE_URL, {
    max: 10,
    // A read past the request deadline has been answered 503: PostgreSQL cancels it rather than
    // keep it running, holding a connection of the pool, after its client left.
    connection: {
      application_name: "vigil-web",
      statement_timeout: WEB_REQUEST_DEADLINE_MS,
    },
  });
  const redis = createRedis(redisConnection(config), { log, name: "vigil-web" });
  const subscriber = createRedis(redisConnection(config), {
    log,
    name: "vigil-web-sub",
    blocking: true,
  });
  const bucket = config.S3_BUCKET;
  const s3 = bucket ? createS3Client(config) : undefined;
  const archive = s3 && bucket
    ? createS3Lister({ client: s3, bucket })
    : createDirLister(config.ARCHIVE_DIR);
  /** Listening before the subscription was made (Redis out of reach at start). */
  let waited = false;
  const closeClients = async () => {
    waited = false; // the pending subscription fails as its client closes: not an error
    s3?.destroy();
    subscriber.disconnect();
    redis.disconnect();
    await sql.end({ timeout: 5 });
  };
  const registry = new Registry();
  const metrics = createWebMetrics(registry);
  let hub: SseHub;
  try {
    // Waits for PostgreSQL like the detector and notifier; a refused DATABASE_URL stops the start.
    await migrateAtStart(sql, { log, ...(options.signal ? { signal: options.signal } : {}) });
    hub = createSseHub({
      subscriber,
      channel: keys.alertsChannel(),
      ackChannel: keys.acksChannel(),
      log,
      metrics,
      maxClients: config.WEB_MAX_SSE_CLIENTS,
      heartbeat: {
        intervalMs: config.WEB_HEARTBEAT_INTERVAL,
        collect: () => heartbeatStats(sql, Date.now()),
      },
    });
    // The subscription waits for Redis without end. Redis answering, the server listens once
    // subscribed (a page's first stream misses nothing); out of reach, it listens after a short
    // wait (the page, the API and /health answered nothing until Redis came back), the live
    // stream refused (503) until the subscription is up. Stopped meanwhile, the start ends.
    const subscribed = hub.start();
    subscribed.catch((error) => waited && log.error("cannot subscribe to live alerts", { error }));
    const first = withTimeout(subscribed, SUBSCRIBE_WAIT_MS, "subscribe to live alerts").then(
      () => true,
      (error) => error.name === "TimeoutError" ? false : Promise.reject(error),
    );
    const signal = options.signal;
    const outcome = signal ? await untilAborted(first, signal) : await first;
    if (outcome === ABORTED) throw signal!.reason;
    waited = !outcome;
    if (waited) {
      log.warn("cannot reach Redis: serving the page and the API, live alerts once it answers", {
        hint: REDIS_HINT,
      });
    }
  } catch (error) {
    await closeClients();
    throw error;
  }
  const app = createApp({
    sql,
    redis,
    hub,
    keys,
    log,
    config,
    registry,
    metrics,
    assets,
    archive,
  });
  const hostname = config.WEB_HOST ?? config.HTTP_HOST;
  const server = serve(app, {
    port: config.WEB_PORT,
    ...httpServerOptions(config),
    hostname,
    log,
    settings: { port: "WEB_PORT", host: config.WEB_HOST ? "WEB_HOST" : "HTTP_HOST" },
    onRefused: (status) => metrics.requests.inc({ route: UNROUTED, status }),
    onListen: ({ port }) => {
      log.info("web listening", {
        hostname,
        port,
        public_read: config.WEB_PUBLIC_READ,
        header_timeout_ms: config.HTTP_HEADER_TIMEOUT,
      });
    },
  });
  let closing: Promise<void> | undefined;
  return {
    port: server.port,
    close() {
      closing ??= (async () => {
        await hub.close();
        await server.close();
        await closeClients();
      })();
      return closing;
    },
  };
}
