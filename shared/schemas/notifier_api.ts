/**
 * Schemas of the notifier's HTTP API (`GET /api/notifications`, `POST /api/test-notification`).
 *
 * @module
 */
import { z } from "zod";
import { queryCount } from "./web_api.ts";

/** Delivery states of a notification (one digest on one channel). */
export const NOTIFICATION_STATUSES = ["pending", "sent", "failed"] as const;

/** `GET /api/notifications` query: "was I told?" by alert, digest or status. */
export const notificationListQuerySchema = z.strictObject({
  alert_id: z.string().min(1).max(500).optional(),
  digest_id: z.string().min(1).max(500).optional(),
  status: z.enum(NOTIFICATION_STATUSES, { error: "must be pending, sent or failed" }).optional(),
  limit: queryCount(1000, 100),
});

/** One channel's answer to a test notification. */
export const testChannelResultSchema = z.object({
  channel: z.string(),
  ok: z.boolean(),
  /** Why it failed (never the channel's URL). */
  error: z.string().optional(),
  /** Accepted, but not by everyone (e.g. SMTP recipients the server refused). */
  warning: z.string().optional(),
  /** HTTP status or SMTP response code, when there was one. */
  status: z.number().int().optional(),
  /** Whether the failure looks temporary (5xx, 429, timeout, refused). */
  retryable: z.boolean().optional(),
  duration_ms: z.number(),
});

/** `POST /api/test-notification` (notifier) and `POST /api/notifications/test` (web): the result. */
export const testNotificationResultSchema = z.object({
  digest_id: z.string(),
  sent_at: z.string(),
  /** True when every channel accepted the test digest. */
  ok: z.boolean(),
  results: z.array(testChannelResultSchema),
});
export type TestNotificationResult = z.infer<typeof testNotificationResultSchema>;

/** Per route: what it would have made in a preview (notifier/preview.ts). */
export const routePreviewSchema = z.object({
  route: z.string(),
  channels: z.array(z.string()),
  digests: z.number().int(),
  /** Digests × the route's channels. */
  notifications: z.number().int(),
  /** Alerts recorded without notifying (a route with no channel). */
  recorded: z.number().int(),
});

/**
 * `GET /api/notifications/preview` (notifier, and the web's proxy of it):
 * the window's alerts replayed through the current routes.
 */
export const volumePreviewSchema = z.object({
  from: z.string(),
  to: z.string(),
  /** Alerts replayed (taken in during the window, silenced ones left out). */
  alerts: z.number().int(),
  digests: z.number().int(),
  notifications: z.number().int(),
  routes: z.array(routePreviewSchema),
  /** True when the window held more alerts than the preview replays (the oldest were left out). */
  truncated: z.boolean(),
});
export type VolumePreview = z.infer<typeof volumePreviewSchema>;
export type RoutePreview = z.infer<typeof routePreviewSchema>;
