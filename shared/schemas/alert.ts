/**
 * Alerts: what the detector publishes for every new (or resolved) anomaly,
 * on the durable alerts stream (`vigil:{alerts}`, field `alert` = JSON) and the
 * live Pub/Sub channel (`vigil:alerts:live`, message = the same JSON).
 *
 * @module
 */
import { z } from "zod";
import { EVENT_TYPES } from "./event.ts";

/** Severities, lowest first. */
export const SEVERITIES = ["INFO", "WARNING", "CRITICAL"] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Where an anomaly's evidence lives. */
export const evidenceSchema = z.object({
  stream: z.string(),
  stream_id: z.string(),
  topic: z.string(),
  partition: z.number().int(),
  offset: z.string(),
});
export type Evidence = z.infer<typeof evidenceSchema>;

/** Per-stage timestamps (ms since epoch) for end-to-end latency. */
export const stagesSchema = z.object({
  event: z.number().optional(),
  ingest: z.number().optional(),
  stored: z.number().optional(),
  published: z.number().optional(),
  notified: z.number().optional(),
});

/** One alert. `status` is `firing` for a new anomaly, `resolved` when it cleared. */
export const alertSchema = z.object({
  id: z.string().min(1),
  status: z.enum(["firing", "resolved"]),
  detected_at: z.string(),
  event_time: z.string(),
  type: z.enum(EVENT_TYPES),
  rule: z.string().min(1),
  severity: z.enum(SEVERITIES),
  entity: z.string(),
  title: z.string(),
  message: z.string(),
  score: z.number().nullable().default(null),
  details: z.record(z.string(), z.unknown()).default({}),
  evidence: z.array(evidenceSchema).default([]),
  resolved_at: z.string().nullable().default(null),
  /** Resolved alerts: the observed value that cleared the condition, when the rule knew it. */
  resolved_value: z.number().nullable().optional(),
  /** That reading in the `details` keys (e.g. `{ latency_ms: 320 }`), for display. */
  resolved_details: z.record(z.string(), z.unknown()).nullable().optional(),
  trace_id: z.string().nullable().default(null),
  /**
   * W3C context of the span that raised the alert (the detector's anomaly
   * span, else the triggering event's), so the notifier can link its digest
   * span to it. Absent on alerts without a traced trigger.
   */
  traceparent: z.string().regex(/^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}$/).optional(),
  stages: stagesSchema.default({}),
});
export type Alert = z.infer<typeof alertSchema>;
