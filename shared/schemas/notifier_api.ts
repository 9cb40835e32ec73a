/**
 * Query schema of the notifier's HTTP API (`GET /api/notifications`).
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
