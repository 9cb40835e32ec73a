/**
 * The test notification: a one-alert digest sent straight through every
 * configured channel (not queued in the outbox tables, so the figures of
 * real notifications are untouched), with each channel's result. Its alert
 * is INFO, titled as a test, its digest id `t-…` unique per request (a new
 * outbox file, a new webhook Idempotency-Key).
 *
 * @module
 */
import type { Logger } from "@vigil/shared/log";
import { alertSchema } from "@vigil/shared/schemas/alert";
import type { TestNotificationResult } from "@vigil/shared/schemas/notifier_api";
import { type Channel, sendThrew } from "./channels/channel.ts";
import type { Digest } from "./digest.ts";

/** The test digest made at `now`. Pure. */
export function testDigest(now: number, id: string): Digest {
  const at = new Date(now).toISOString();
  return {
    id,
    kind: "test",
    route: "test",
    groupKey: "test|",
    groupLabels: {},
    createdAt: now,
    channels: [],
    alerts: [{
      ...alertSchema.parse({
        id,
        status: "firing",
        detected_at: at,
        event_time: at,
        type: "metrics",
        rule: "test_notification",
        severity: "INFO",
        entity: "vigil",
        title: "Test notification from Vigil",
        message: "This is a test notification: this channel works. Nothing is wrong.",
      }),
      isNew: true,
      flapping: false,
      resolvedAfterMs: null,
      // Stored nowhere: `/alerts/<id>` would open "Cannot find anomaly"; the live view shows
      // that the links of this channel reach the page.
      webPath: "/",
    }],
    flapping: [],
    streamIds: [],
  };
}

/** Send a test digest through every channel at once; never throws for delivery problems. */
export async function sendTestNotification(
  channels: readonly Channel[],
  options: { timeoutMs: number; log: Logger },
): Promise<TestNotificationResult> {
  const now = Date.now();
  const id = `t-${now.toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
  const digest = testDigest(now, id);
  const results = await Promise.all(channels.map(async (channel) => {
    const started = performance.now();
    const r = await channel.send(digest, AbortSignal.timeout(options.timeoutMs)).catch(sendThrew);
    const duration_ms = Math.round(performance.now() - started);
    if (r.ok) {
      const warning = r.warning ? { warning: r.warning } : {};
      return { channel: channel.name, ok: true, ...warning, duration_ms };
    }
    return {
      channel: channel.name,
      ok: false,
      error: r.error,
      ...("status" in r && r.status !== undefined ? { status: r.status } : {}),
      retryable: r.retryable,
      duration_ms,
    };
  }));
  const ok = results.every((r) => r.ok);
  options.log.info("test notification sent", {
    digest_id: id,
    ok,
    channels: results.map((r) => `${r.channel}:${r.ok ? "ok" : "failed"}`),
  });
  return { digest_id: id, sent_at: new Date(now).toISOString(), ok, results };
}
