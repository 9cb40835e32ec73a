/**
 * Test helpers for the web service's integration tests: the app wired to a
 * fresh PostgreSQL database and a unique Redis prefix, and anomaly fixtures.
 *
 * @module
 */
import type { Hono } from "hono";
import { silentLogger } from "@vigil/tools/testing/log";
import { Registry } from "@vigil/shared/metrics";
import { migrate } from "@vigil/shared/migrate";
import { createRedis, type Redis } from "@vigil/shared/redis";
import type { Keys } from "@vigil/shared/keys";
import { type Sql, withPg } from "@vigil/tools/testing/pg";
import { TEST_REDIS_URL, withRedis } from "@vigil/tools/testing/redis";
import { createApp } from "../app.ts";
import type { ArchiveLister } from "../archive_lookup.ts";
import type { AppDeps } from "../deps.ts";
import { createWebMetrics, type WebMetrics } from "../metrics.ts";
import { createSseHub, type SseHub } from "../sse_hub.ts";
import { loadStaticAssets, type StaticAssets } from "../static.ts";
import { serve } from "@vigil/shared/http/serve";
import { launchBrowser, type TestBrowser } from "./_browser.ts";

/** Everything a web integration test gets. */
export interface WebTestContext {
  app: Hono;
  sql: Sql;
  redis: Redis;
  keys: Keys;
  hub: SseHub;
  /** The hub's subscriber connection. */
  subscriber: Redis;
  metrics: WebMetrics;
  registry: Registry;
  url: string;
  /**
   * Another web instance on the same database and Redis (as behind a load balancer): its own
   * subscriber, hub and app. Closed with the first.
   */
  instance(): Promise<{ app: Hono; hub: SseHub }>;
}

/** Options for {@link withWebApp}. */
export interface WebTestOptions {
  token?: string;
  publicRead?: boolean;
  heartbeatMs?: number;
  assets?: StaticAssets;
  maxClients?: number;
  archive?: ArchiveLister;
  /** The notifier's address (its test notification). */
  notifierUrl?: string;
  /** The detector's address (the rules in force). */
  detectorUrl?: string;
  /** The app's own PostgreSQL client for the test database's URL (e.g. through a proxy). */
  appSql?: (url: string) => Sql;
  /** The Redis URL of the hub's subscriber (e.g. through a proxy the test cuts). */
  subscriberUrl?: string;
  /** The app's deadline for requests reading PostgreSQL or Redis (ms). */
  requestDeadlineMs?: number;
}

/** Run `fn` with the app on a fresh database and Redis prefix; cleans up after. */
export async function withWebApp<T>(
  fn: (ctx: WebTestContext) => Promise<T>,
  options: WebTestOptions = {},
): Promise<T> {
  return await withPg(({ sql, url }) =>
    withRedis(async ({ redis, keys }) => {
      await migrate(sql);
      const instances: { hub: SseHub; subscriber: Redis }[] = [];
      /** One web instance: its own subscriber, hub, metrics and app on the shared stores. */
      const build = () => {
        const subscriber = createRedis(options.subscriberUrl ?? TEST_REDIS_URL, {
          name: "test-sub",
          blocking: true,
        });
        const registry = new Registry();
        const metrics = createWebMetrics(registry);
        const hub = createSseHub({
          subscriber,
          channel: keys.alertsChannel(),
          ackChannel: keys.acksChannel(),
          log: silentLogger(),
          metrics,
          maxClients: options.maxClients ?? 100,
          ...(options.heartbeatMs
            ? {
              heartbeat: {
                intervalMs: options.heartbeatMs,
                collect: () => Promise.resolve({ ok: true }),
              },
            }
            : {}),
        });
        instances.push({ hub, subscriber });
        const deps: AppDeps = {
          sql: options.appSql?.(url) ?? sql,
          redis,
          hub,
          keys,
          log: silentLogger(),
          config: {
            VIGIL_API_TOKEN: options.token,
            WEB_PUBLIC_READ: options.publicRead ?? true,
            ARCHIVE_PREFIX: "raw",
            S3_BUCKET: "vigil-archive",
            NOTIFIER_URL: options.notifierUrl,
            DETECTOR_URL: options.detectorUrl,
          },
          registry,
          metrics,
          assets: options.assets,
          ...(options.requestDeadlineMs ? { requestDeadlineMs: options.requestDeadlineMs } : {}),
          archive: options.archive,
        };
        return { app: createApp(deps), hub, subscriber, metrics, registry };
      };
      try {
        const { app, hub, subscriber, metrics, registry } = build();
        await hub.start();
        const instance = async () => {
          const another = build();
          await another.hub.start();
          return { app: another.app, hub: another.hub };
        };
        return await fn({
          app,
          sql,
          redis,
          keys,
          hub,
          subscriber,
          metrics,
          registry,
          url,
          instance,
        });
      } finally {
        for (const { hub, subscriber } of instances) {
          await hub.close();
          subscriber.disconnect();
        }
      }
    })
  );
}

/** A row of `anomaly_events` for fixtures; unspecified fields get defaults. */
export interface AnomalyFixture {
  id: string;
  detected_at: Date;
  event_time?: Date;
  type?: "logs" | "metrics" | "transactions";
  rule?: string;
  severity?: "INFO" | "WARNING" | "CRITICAL";
  entity?: string;
  title?: string;
  message?: string;
  score?: number | null;
  evidence?: unknown[];
  details?: Record<string, unknown>;
  resolved_at?: Date | null;
  acknowledged_at?: Date | null;
}

/** Insert fixtures in one statement. */
export async function insertAnomalies(sql: Sql, rows: AnomalyFixture[]): Promise<void> {
  const values = rows.map((r) => ({
    id: r.id,
    detected_at: r.detected_at,
    event_time: r.event_time ?? r.detected_at,
    type: r.type ?? "metrics",
    rule: r.rule ?? "threshold",
    severity: r.severity ?? "WARNING",
    entity: r.entity ?? "checkout",
    title: r.title ?? `anomaly ${r.id}`,
    message: r.message ?? `message of ${r.id}`,
    score: r.score ?? null,
    evidence: sql.json((r.evidence ?? []) as never),
    details: sql.json((r.details ?? {}) as never),
    resolved_at: r.resolved_at ?? null,
    acknowledged_at: r.acknowledged_at ?? null,
  }));
  await sql`INSERT INTO anomaly_events ${sql(values)}`;
}

/** GET `path` and return status + JSON body. */
export async function getJson(
  app: Hono,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; res: Response }> {
  const res = await app.request(path, { headers });
  const body = await res.json() as Record<string, unknown>;
  return { status: res.status, body, res };
}

/** Send JSON with `method` and return status + JSON body. */
export async function sendJson(
  app: Hono,
  method: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await app.request(path, {
    method,
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}

/** What {@link withBrowserPage} gives: the web app's context, its address, and Chromium. */
export interface BrowserPageContext extends WebTestContext {
  base: string;
  browser: TestBrowser;
}

/**
 * Run `fn` with the page's files loaded, the app served on a real port and Chromium open (on
 * nothing yet); everything closed after. `observe` sees each request with its answer.
 */
export async function withBrowserPage(
  fn: (ctx: BrowserPageContext) => Promise<void>,
  options: Omit<WebTestOptions, "assets"> & {
    observe?: (req: Request, res: Response) => void;
  } = {},
): Promise<void> {
  const assets = await loadStaticAssets();
  await withWebApp(async (ctx) => {
    const server = serve({
      async fetch(req) {
        const res = await ctx.app.fetch(req);
        options.observe?.(req, res);
        return res;
      },
    }, { port: 0, log: silentLogger() });
    const browser = await launchBrowser();
    try {
      await fn({ ...ctx, base: `http://127.0.0.1:${server.port}`, browser });
    } finally {
      await browser.close();
      await server.close();
    }
  }, { ...options, assets });
}
