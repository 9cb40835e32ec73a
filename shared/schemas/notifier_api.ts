/**
 * Schemas of the notifier's HTTP API (`GET /api/notifications`, `POST /api/test-notification`).
 *
 * @module
 */
import { z } from "zod";

/** Delivery states of a notification (one digest on one channel). */
export const NOTIFICATION_STATUSES = ["pending", "sent", "failed"] as const;

/** `GET /api/notifications` query: "was I told?" by alert, digest or status. */
export const notificationListQuerySchema = z.strictObject({
  alert_id: z.string().min(1).max(500).optional(),
  digest_id: z.string().min(1).max(500).optional(),
  status: z.enum(NOTIFICATION_STATUSES, { error: "must be pending, sent or failed" }).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
export type NotificationListQuery = z.infer<typeof notificationListQuerySchema>;

/** One channel's answer to a test notification. */
export const testChannelResultSchema = z.object({
  channel: z.string(),
  ok: z.boolean(),
  /** Why it failed (never the channel's URL). */
  error: z.string().optional(),
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
