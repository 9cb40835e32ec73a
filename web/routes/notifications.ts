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
import type { z } from "zod";
import {
  testNotificationResultSchema,
  volumePreviewSchema,
} from "@vigil/shared/schemas/notifier_api";
import { httpError } from "@vigil/shared/http/app";
import { query } from "@vigil/shared/http/validate";
import type { AppDeps } from "../deps.ts";
import { summarizeNotifications } from "../notification_summary.ts";
import { notificationFigures } from "../store.ts";

/** How long the notifier may take (the test notification waits for every channel). */
const NOTIFIER_TIMEOUT_MS = 60_000;

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
    const preview = await callNotifier(deps, {
      what: "preview notifications",
      path: `/api/notifications/preview?window=${encodeURIComponent(window)}`,
      method: "GET",
      schema: volumePreviewSchema,
    });
    return c.json(preview);
  });
  app.post("/test", async (c) => {
    const result = await callNotifier(deps, {
      what: "send a test notification",
      path: "/api/test-notification",
      method: "POST",
      schema: testNotificationResultSchema,
    });
    deps.log.info("test notification requested", {
      digest_id: result.digest_id,
      ok: result.ok,
    });
    return c.json(result);
  });
  return app;
}

/**
 * Call the notifier at NOTIFIER_URL (with VIGIL_API_TOKEN) and validate its
 * answer.
 *
 * @throws {HTTPException} 503 without NOTIFIER_URL; 502 when it cannot be reached, refuses or
 * answers something else
 */
async function callNotifier<T>(
  deps: AppDeps,
  call: { what: string; path: string; method: "GET" | "POST"; schema: z.ZodType<T> },
): Promise<T> {
  const base = deps.config.NOTIFIER_URL;
  if (!base) {
    throw httpError(
      503,
      `Cannot ${call.what}: set NOTIFIER_URL to the notifier's address (e.g. http://127.0.0.1:9104)`,
    );
  }
  let res: Response;
  try {
    res = await fetch(new URL(call.path, base), {
      method: call.method,
      headers: { authorization: `Bearer ${deps.config.VIGIL_API_TOKEN ?? ""}` },
      signal: AbortSignal.timeout(NOTIFIER_TIMEOUT_MS),
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
      `Cannot ${call.what}: the notifier answered ${res.status}${
        typeof said === "string" ? `: ${said.slice(0, 200)}` : ""
      }${hint}`,
    );
  }
  const parsed = call.schema.safeParse(body);
  if (!parsed.success) {
    throw httpError(502, `Cannot ${call.what}: the notifier's answer has an unexpected shape`);
  }
  return parsed.data;
}
