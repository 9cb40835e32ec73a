/**
 * Generic JSON webhook: one POST per digest with the whole digest, and an
 * `Idempotency-Key` header equal to the digest id so a receiver can drop a
 * re-delivery after a crash.
 *
 * @module
 */
import { type Digest, digestCounts } from "../digest.ts";
import { digestSubject, type RenderOptions } from "../render.ts";
import { alertFigures, valueVsThreshold } from "../figures.ts";
import type { Channel, FetchFn } from "./channel.ts";
import { postJson } from "./_http.ts";

/** The JSON body sent to the webhook. */
export function webhookPayload(digest: Digest, options: RenderOptions): Record<string, unknown> {
  return {
    version: 1,
    digest_id: digest.id,
    kind: digest.kind,
    subject: digestSubject(digest),
    route: digest.route,
    group: digest.groupLabels,
    created_at: new Date(digest.createdAt).toISOString(),
    counts: digestCounts(digest),
    // `window_ms`: the FLAP_WINDOW of `changes` (null in digests stored before it was recorded).
    flapping: digest.flapping.map(({ windowMs, ...f }) => ({ ...f, window_ms: windowMs ?? null })),
    web_url: options.webBaseUrl,
    alerts: digest.alerts.map((a) => ({
      id: a.id,
      status: a.status,
      severity: a.severity,
      type: a.type,
      rule: a.rule,
      entity: a.entity,
      title: a.title,
      message: a.message,
      score: a.score,
      details: a.details,
      /** The digest's "Value vs threshold" cell, and its parts. */
      value_vs_threshold: valueVsThreshold(a),
      figures: alertFigures(a),
      detected_at: a.detected_at,
      event_time: a.event_time,
      resolved_at: a.resolved_at,
      // The reading that cleared it (`figures` are the firing ones); null when not known.
      resolved_value: a.resolved_value ?? null,
      resolved_details: a.resolved_details ?? null,
      trace_id: a.trace_id,
      is_new: a.isNew,
      flapping: a.flapping,
      resolved_after_ms: a.resolvedAfterMs,
    })),
  };
}

/** Create the webhook channel. */
export function createWebhookChannel(
  options: RenderOptions & { url: string; fetch?: FetchFn },
): Channel {
  const fetchFn = options.fetch ?? fetch;
  return {
    name: "webhook",
    send: (digest, signal) =>
      postJson(fetchFn, options.url, webhookPayload(digest, options), {
        signal,
        headers: { "idempotency-key": digest.id },
      }),
  };
}
