/**
 * The web service's Hono app: the JSON API under `/api`, the live stream
 * (`/api/live`, SSE), `/metrics`, `/api/health` and the page.
 *
 * | route | what |
 * |---|---|
 * | `GET /api/anomalies` | filtered, cursor-paged list, newest first |
 * | `GET /api/anomalies/:id` | one anomaly with its evidence |
 * | `POST /api/anomalies/:id/ack` | acknowledge (token) |
 * | `GET /api/stats` | counts per bucket, type, severity |
 * | `GET /api/series/:type/:entity` | cached values/scores of a series |
 * | `GET /api/live` | server-sent events: alerts + stats heartbeat |
 * | `GET/POST /api/silences`, `DELETE /api/silences/:id` | silences (mutations: token) |
 * | `GET /api/health`, `GET /metrics` | ops (always open) |
 *
 * @module
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { routePath } from "hono/route";
import { trace } from "@opentelemetry/api";
import { secureHeaders } from "hono/secure-headers";
import { runHealthChecks } from "@vigil/shared/ops_server";
import { apiAccess } from "./auth.ts";
import type { AppDeps } from "./deps.ts";
import { anomalyRoutes } from "./routes/anomalies.ts";
import { liveRoutes } from "./routes/live.ts";
import { pageRoutes } from "./routes/page.ts";
import { seriesRoutes } from "./routes/series.ts";
import { silenceRoutes } from "./routes/silences.ts";
import { statsRoutes } from "./routes/stats.ts";

export type { AppDeps } from "./deps.ts";

/** Largest accepted request body. */
const MAX_BODY_BYTES = 64 * 1024;

/** Build the app. Nothing starts here: serve it with `Deno.serve(app.fetch)`. */
export function createApp(deps: AppDeps): Hono {
  const { log, metrics } = deps;
  const app = new Hono();

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

  app.onError((error, c) => {
    if (error instanceof HTTPException) {
      if (error.status === 401) c.header("WWW-Authenticate", 'Bearer realm="vigil"');
      return c.json({ error: error.message || "Request failed" }, error.status);
    }
    log.error("request failed", { method: c.req.method, route: routePath(c), error });
    return c.json({ error: "Internal error; see the server log" }, 500);
  });
  app.notFound((c) => c.json({ error: "Not found" }, 404));

  // Ops endpoints: always open.
  const health = async () => {
    const result = await runHealthChecks({
      redis: async () => (await deps.redis.ping()) === "PONG",
      postgres: async () => (await deps.sql`SELECT 1 AS ok`).length === 1,
      // The one Pub/Sub subscription every live client depends on.
      live: () => deps.hub.subscribed,
    });
    return { status: result.ok ? "ok" : "degraded", ...result, live_clients: deps.hub.size };
  };
  app.get("/api/health", async (c) => {
    const body = await health();
    return c.json(body, body.ok ? 200 : 503);
  });
  app.get("/metrics", async (c) => {
    c.header("Content-Type", deps.registry.contentType);
    return c.body(await deps.registry.render());
  });

  app.use(
    "/api/*",
    apiAccess({ token: deps.config.VIGIL_API_TOKEN, publicRead: deps.config.WEB_PUBLIC_READ }),
  );
  app.use(
    "/api/*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) =>
        c.json({ error: `Cannot read body: larger than ${MAX_BODY_BYTES} bytes` }, 413),
    }),
  );
  app.route("/api/anomalies", anomalyRoutes(deps));
  app.route("/api/stats", statsRoutes(deps));
  app.route("/api/series", seriesRoutes(deps));
  app.route("/api/silences", silenceRoutes(deps));
  app.route("/api/live", liveRoutes(deps));
  if (deps.assets) app.route("/", pageRoutes(deps.assets));
  return app;
}
