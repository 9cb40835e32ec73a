/**
 * `GET /api/notifications/summary`: what the notifier sent or planned in the
 * last `window` (default 1 h), per route and channel, from its PostgreSQL
 * tables (read only; definitions in notification_summary.ts).
 *
 * `GET /api/notifications/preview` (read): the window's alerts replayed by
 * the notifier through its current routes (notifier/preview.ts): how many
 * notifications the routes in force would have sent.
 *
 * `POST /api/notifications/test` (token): asks the notifier at
 * `NOTIFIER_URL` to send a test digest through every channel
 * (`POST /api/test-notification` there, with the same VIGIL_API_TOKEN) and
 * answers its per-channel results; 503 without NOTIFIER_URL, 502 when the
 * notifier cannot be reached or refuses.
 *
 * @module
 */
import { Hono } from "hono";
import { notificationSummaryQuerySchema } from "@vigil/shared/schemas/web_api";
import { noQuery, query } from "@vigil/shared/http/validate";
import type { AppDeps } from "../deps.ts";
import { summarizeNotifications } from "../notification_summary.ts";
import { notificationFigures } from "../store.ts";
import { callService } from "../service_proxy.ts";

/** Routes under `/api/notifications`. */
export function notificationRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  const now = deps.now ?? Date.now;
  app.get("/summary", query(notificationSummaryQuerySchema), async (c) => {
    const toMs = now();
    const fromMs = toMs - c.req.valid("query").window;
    const figures = await notificationFigures(deps.sql, { fromMs, toMs });
    return c.json({
      ...summarizeNotifications(figures, { fromMs, toMs }),
      notifier_api: Boolean(deps.config.NOTIFIER_URL),
    });
  });
  app.get("/preview", query(notificationSummaryQuerySchema), async (c) => {
    const window = c.req.query("window") ?? "1h";
    return c.json(await callService(deps, "notificationPreview", { window }));
  });
  app.post("/test", noQuery, async (c) => {
    const result = await callService(deps, "testNotification");
    deps.log.info("test notification requested", {
      digest_id: result.digest_id,
      ok: result.ok,
    });
    return c.json(result);
  });
  return app;
}
