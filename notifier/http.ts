/**
 * The notifier's HTTP API, mounted on its ops app (`/health`, `/metrics`):
 *
 * | method | path | what |
 * |---|---|---|
 * | GET | `/api/notifications?alert_id=&digest_id=&status=&limit=` | "was I told?" |
 * | GET | `/api/notifications/preview?window=1h` | the window's alerts replayed through the current routes (503 + `Retry-After` when busy or too long) |
 * | POST | `/api/test-notification` | send a test digest through every channel (bearer token) |
 *
 * Reads are open like the ops endpoints (the server binds `HTTP_HOST`,
 * 127.0.0.1 by default); the test notification needs `Authorization: Bearer
 * <VIGIL_API_TOKEN>` (503 when unset). Silences are the web's
 * (`/api/silences` there); the notifier only reads the `silences` table.
 *
 * @module
 */
import type { Hono } from "hono";
import {
  answerRangeError,
  createBaseApp,
  httpError,
  SMALL_BODY_LIMIT_BYTES,
} from "@vigil/shared/http/app";
import { noQuery, query } from "@vigil/shared/http/validate";
import type { Logger } from "@vigil/shared/log";
import { notificationListQuerySchema } from "@vigil/shared/schemas/notifier_api";
import { notificationSummaryQuerySchema } from "@vigil/shared/schemas/web_api";
import { requireBearer } from "@vigil/shared/http/bearer";
import type { Channel } from "./channels/channel.ts";
import type { NotifierStore } from "./store.ts";
import { sendTestNotification } from "./test_notification.ts";
import { previewVolumeAsync } from "./preview.ts";
import type { Routing } from "./routes.ts";

/** Most alerts one preview replays (the newest of the window). */
export const PREVIEW_MAX_ALERTS = 50_000;

/** A preview whose replay takes longer answers 503 (the web gives up on it after 5 s). */
export const PREVIEW_BUDGET_MS = 4_000;

/** Seconds a busy or too long preview asks the caller to wait (as a database out of reach does). */
export const PREVIEW_RETRY_AFTER_S = 5;

/** The API routes on a guarded app (JSON errors, 16 KiB body limit, 400 on control characters). */
export function createNotifierApi(deps: {
  store: Pick<NotifierStore, "listNotifications" | "alertsTakenIn">;
  /** What the preview replays the alerts through: the routes in force. */
  preview: Routing & { flapThreshold: number; flapWindowMs: number; staleAfterMs: number };
  /** Clock. @default {Date.now} */
  now?: () => number;
  log: Logger;
  /** The configured channels (the test notification goes through each). */
  channels: readonly Channel[];
  /** `VIGIL_API_TOKEN`; unset = the test notification answers 503. */
  token: string | undefined;
  /** Per-channel timeout of the test notification. */
  sendTimeoutMs: number;
  /** @default {PREVIEW_BUDGET_MS} */
  previewBudgetMs?: number;
}): Hono {
  const app = createBaseApp({ log: deps.log, bodyLimitBytes: SMALL_BODY_LIMIT_BYTES });
  const now = deps.now ?? Date.now;
  app.get("/api/notifications", query(notificationListQuerySchema), async (c) => {
    return c.json({ notifications: await deps.store.listNotifications(c.req.valid("query")) });
  });
  const preview = async (windowMs: number) => {
    const toMs = now();
    const fromMs = toMs - windowMs;
    const { alerts, truncated } = await deps.store.alertsTakenIn({
      fromMs,
      toMs,
      limit: PREVIEW_MAX_ALERTS,
    });
    const budgetMs = deps.previewBudgetMs ?? PREVIEW_BUDGET_MS;
    return await previewVolumeAsync(alerts, { ...deps.preview, fromMs, toMs, truncated, budgetMs });
  };
  // One replay at a time: every open page asks each minute, and requests for the window being
  // replayed share it.
  let running: { windowMs: number; result: ReturnType<typeof preview> } | undefined;
  app.get("/api/notifications/preview", query(notificationSummaryQuerySchema), async (c) => {
    const windowMs = c.req.valid("query").window;
    if (running && running.windowMs !== windowMs) {
      throw httpError(503, "Cannot preview: another preview is running, retry in a few seconds", {
        retryAfterS: PREVIEW_RETRY_AFTER_S,
      });
    }
    if (!running) {
      const result = preview(windowMs).finally(() => (running = undefined));
      running = { windowMs, result };
    }
    const answer = { status: 503, retryAfterS: PREVIEW_RETRY_AFTER_S } as const;
    return c.json(await answerRangeError(running.result, answer));
  });
  app.post("/api/test-notification", noQuery, requireBearer({ token: deps.token }), async (c) => {
    const result = await sendTestNotification(deps.channels, {
      timeoutMs: deps.sendTimeoutMs,
      log: deps.log,
    });
    return c.json(result);
  });
  return app;
}
