/**
 * `GET /api/notifications/summary`: what the notifier sent or planned in the
 * last `window` (default 1 h), per route and channel, from its PostgreSQL
 * tables (read only; definitions in notification_summary.ts).
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
import { testNotificationResultSchema } from "@vigil/shared/schemas/notifier_api";
import { httpError } from "@vigil/shared/http/app";
import { query } from "@vigil/shared/http/validate";
import type { AppDeps } from "../deps.ts";
import { summarizeNotifications } from "../notification_summary.ts";
import { notificationFigures } from "../store.ts";

/** How long the notifier may take for every channel's answer. */
const TEST_TIMEOUT_MS = 60_000;

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
  app.post("/test", async (c) => {
    const base = deps.config.NOTIFIER_URL;
    if (!base) {
      throw httpError(
        503,
        "Cannot send a test notification: set NOTIFIER_URL to the notifier's address (e.g. http://127.0.0.1:9104)",
      );
    }
    let res: Response;
    try {
      res = await fetch(new URL("/api/test-notification", base), {
        method: "POST",
        headers: { authorization: `Bearer ${deps.config.VIGIL_API_TOKEN ?? ""}` },
        signal: AbortSignal.timeout(TEST_TIMEOUT_MS),
      });
    } catch (error) {
      throw httpError(
        502,
        `Cannot reach the notifier at NOTIFIER_URL: ${(error as Error).message}`.slice(0, 300),
      );
    }
    let body: unknown = null;
    try {
      body = await res.json();
    } catch { /* not JSON: reported below */ }
    if (!res.ok) {
      const said = (body as { error?: unknown } | null)?.error;
      const hint = res.status === 401
        ? " (set the same VIGIL_API_TOKEN on the web and the notifier)"
        : "";
      throw httpError(
        502,
        `Cannot send a test notification: the notifier answered ${res.status}${
          typeof said === "string" ? `: ${said.slice(0, 200)}` : ""
        }${hint}`,
      );
    }
    const parsed = testNotificationResultSchema.safeParse(body);
    if (!parsed.success) {
      throw httpError(
        502,
        "Cannot send a test notification: the notifier's answer is not a result",
      );
    }
    deps.log.info("test notification requested", {
      digest_id: parsed.data.digest_id,
      ok: parsed.data.ok,
    });
    return c.json(parsed.data);
  });
  return app;
}
