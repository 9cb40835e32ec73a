/**
 * The web service's Hono app: the JSON API under `/api`, the live stream
 * (`/api/live`, SSE), the ops endpoints and the page.
 *
 * | route | what |
 * |---|---|
 * | `GET /api/anomalies` | filtered, cursor-paged list, newest first |
 * | `GET /api/anomalies/:id` | one anomaly with its evidence |
 * | `POST /api/anomalies/:id/ack` | acknowledge (token) |
 * | `GET /api/stats` | counts per bucket, type, severity |
 * | `GET /api/series/:type/:entity` | cached values/scores of a series |
 * | `GET /api/entities/:entity` | an entity's state, recent anomalies and series |
 * | `GET /api/notifications/summary` | what the notifier sent/planned, per route and channel |
 * | `GET /api/system/rules`, `GET /api/system/retention` | the detector's rules in force (proxied to DETECTOR_URL), the last retention run |
 * | `GET /api/live` | server-sent events: alerts + stats heartbeat |
 * | `GET/POST /api/silences`, `DELETE /api/silences/:id` | silences (mutations: token); the only silences API |
 * | `GET /health` (= `/api/health`, `/healthz`), `GET /metrics` | ops (always open; shared/http/ops_app.ts) |
 * | `GET /api/openapi.json`, `GET /api/docs` | the API's documentation (always open) |
 * | `GET /`, `/alerts/:id`, `/entities/:entity`, `/assets/*`, `/favicon.ico`, `/vendor/*` | the page |
 *
 * Every route is listed in api_routes.ts (the OpenAPI document); a test
 * checks that the two agree.
 *
 * Every route is guarded (shared/http/app.ts): bodies over 64 KiB answer
 * 413, control characters in the path or query 400.
 *
 * @module
 */
import { Hono, type MiddlewareHandler } from "hono";
import { accepts } from "hono/accepts";
import { html } from "hono/html";
import { routePath } from "hono/route";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { trace } from "@opentelemetry/api";
import { secureHeaders } from "hono/secure-headers";
import { deadline, guardRequests, handleErrors, headContentLength } from "@vigil/shared/http/app";
import { createOpsApp } from "@vigil/shared/http/ops_app";
import { requireBearer } from "@vigil/shared/http/bearer";
import type { AppDeps } from "./deps.ts";
import { anomalyRoutes } from "./routes/anomalies.ts";
import { docsRoutes } from "./routes/docs.ts";
import { entityRoutes } from "./routes/entities.ts";
import { liveRoutes } from "./routes/live.ts";
import { notificationRoutes } from "./routes/notifications.ts";
import { pageRoutes } from "./routes/page.ts";
import { seriesRoutes } from "./routes/series.ts";
import { silenceRoutes } from "./routes/silences.ts";
import { statsRoutes } from "./routes/stats.ts";
import { systemRoutes } from "./routes/system.ts";
import { redisHealth } from "@vigil/shared/redis";

/** A GET of the API (it reads PostgreSQL or Redis) answers 503 when it takes longer. */
export const WEB_REQUEST_DEADLINE_MS = 10_000;

/** Routes without the deadline: the live stream, and proxies with their own timeouts. */
const PROXIED = /^\/api\/(live|notifications\/(test|preview)|system\/rules)\/?$/;

/** Largest accepted request body. */
export const WEB_BODY_LIMIT_BYTES = 64 * 1024;

/**
 * A browser that opens a wrong address (a GET or HEAD that accepts HTML, outside the
 * API and the ops paths) gets its error as a page with a way back to the
 * live view, not as the API's `{"error": …}`; the status stays.
 */
const htmlErrors: MiddlewareHandler = async (c, next) => {
  await next();
  const { status, headers } = c.res;
  if (
    status < 400 || (c.req.method !== "GET" && c.req.method !== "HEAD") ||
    /^\/(api\/|metrics|health)/.test(c.req.path) ||
    !headers.get("content-type")?.startsWith("application/json")
  ) return;
  // Either form depends on Accept: a cache in front (a 404 is cacheable) must keep both.
  c.header("Vary", "Accept", { append: true });
  // Only to a client that prefers HTML (`text/html;q=0` or JSON first keeps the JSON error).
  const wanted = accepts(c, {
    header: "Accept",
    supports: ["application/json", "text/html"],
    default: "",
  });
  if (wanted !== "text/html") return;
  const body = await c.res.clone().json().catch(() => ({})) as { error?: unknown };
  const message = typeof body.error === "string" ? body.error : `Error ${status}`;
  c.res = await c.html(
    html`
      <!doctype html>
      <html lang="en">
        <head>
          <meta charset="utf-8">
          <title>Vigil · ${message}</title>
          <link rel="stylesheet" href="/assets/style.css">
        </head>
        <body>
          <main class="error-page">
            <h1>${message}</h1>
            <p><a href="/">Back to the live view</a></p>
          </main>
        </body>
      </html>
    `,
    status as ContentfulStatusCode,
  );
};

/** Build the app. Nothing starts here: serve it with shared/http/serve.ts. */
export function createApp(deps: AppDeps): Hono {
  const { log, metrics } = deps;
  const app = new Hono();

  app.use("*", headContentLength);
  app.use("*", async (c, next) => {
    const started = performance.now();
    await next();
    const path = routePath(c);
    const route = path === "" || path === "*" || path === "/*" ? "unmatched" : path;
    metrics.requests.inc({ route, status: c.res.status });
    metrics.requestSeconds.observe({ route }, (performance.now() - started) / 1000);
    // Tracing on: Deno's span of this request gets the route (the URL path alone is unbounded).
    trace.getActiveSpan()?.setAttribute("http.route", route).updateName(`${c.req.method} ${route}`);
  });

  app.use(
    "*",
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: deps.assets ? ["'self'", deps.assets.importMapHash] : ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
      xFrameOptions: "DENY",
      referrerPolicy: "no-referrer",
    }),
  );
  handleErrors(app, { log });
  app.use("*", htmlErrors);
  app.use("*", guardRequests({ bodyLimitBytes: WEB_BODY_LIMIT_BYTES }));

  // Ops endpoints: always open (mounted before the access check).
  app.route(
    "/",
    createOpsApp({
      checks: {
        redis: () => redisHealth(deps.redis),
        postgres: async () => (await deps.sql`SELECT 1 AS ok`).length === 1,
        // The one Pub/Sub subscription every live client depends on.
        live: () => deps.hub.health(),
      },
      metrics: deps.registry,
      log,
      healthPaths: ["/health", "/healthz", "/api/health"],
      extra: () => ({ live_clients: deps.hub.size }),
      bodyLimitBytes: WEB_BODY_LIMIT_BYTES,
    }),
  );

  // The API's documentation: open too (mounted before the access check).
  app.route("/", docsRoutes(deps.assets));

  // Mutations always need the bearer token (VIGIL_API_TOKEN; unset, they answer 503, so a
  // forgotten setting never leaves them open); reads only when WEB_PUBLIC_READ=false.
  const bearer = requireBearer({ token: deps.config.VIGIL_API_TOKEN });
  app.use(
    "/api/*",
    (c, next) =>
      deps.config.WEB_PUBLIC_READ && (c.req.method === "GET" || c.req.method === "HEAD")
        ? next()
        : bearer(c, next),
  );
  // Reads (GET, HEAD) of PostgreSQL and Redis answer within a deadline (503 after it). Not
  // writes: one that lands after a 503 would be made twice by the retry the 503 asks for (a
  // silence has no idempotency key). The live stream lasts, and the proxies to the notifier
  // and detector have their own timeouts.
  const dbDeadline = deadline(deps.requestDeadlineMs ?? WEB_REQUEST_DEADLINE_MS);
  app.use(
    "/api/*",
    (c, next) =>
      (c.req.method !== "GET" && c.req.method !== "HEAD") || PROXIED.test(c.req.path)
        ? next()
        : dbDeadline(c, next),
  );
  app.route("/api/anomalies", anomalyRoutes(deps));
  app.route("/api/stats", statsRoutes(deps));
  app.route("/api/series", seriesRoutes(deps));
  app.route("/api/entities", entityRoutes(deps));
  app.route("/api/notifications", notificationRoutes(deps));
  app.route("/api/silences", silenceRoutes(deps));
  app.route("/api/system", systemRoutes(deps));
  app.route("/api/live", liveRoutes(deps));
  if (deps.assets) app.route("/", pageRoutes(deps.assets));
  return app;
}
