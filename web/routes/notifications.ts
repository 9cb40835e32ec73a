/**
 * `GET /api/notifications/summary`: what the notifier sent or planned in the
 * last `window` (default 1 h), per route and channel, from its PostgreSQL
 * tables (read only; definitions in notification_summary.ts).
 *
 * @module
 */
import { Hono } from "hono";
import { notificationSummaryQuerySchema } from "@vigil/shared/schemas/web_api";
import { query } from "@vigil/shared/http/validate";
import type { AppDeps } from "../deps.ts";
import { summarizeNotifications } from "../notification_summary.ts";
import { notificationFigures } from "../store.ts";

/** Routes under `/api/notifications`. */
export function notificationRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  const now = deps.now ?? Date.now;
  app.get("/summary", query(notificationSummaryQuerySchema), async (c) => {
    const toMs = now();
    const fromMs = toMs - c.req.valid("query").window;
    const figures = await notificationFigures(deps.sql, { fromMs, toMs });
    return c.json(summarizeNotifications(figures, { fromMs, toMs }));
  });
  return app;
}
