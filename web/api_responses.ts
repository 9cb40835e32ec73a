/**
 * zod schemas of the web API's answers, for the OpenAPI document
 * (`/api/openapi.json`). The API tests parse real answers with them, so
 * the document cannot drift from what the routes return.
 *
 * @module
 */
import { z } from "zod";
import { evidenceSchema, SEVERITIES } from "@vigil/shared/schemas/alert";
import { EVENT_TYPES } from "@vigil/shared/schemas/event";
import { silenceSchema } from "@vigil/shared/schemas/silence";
import { isoTimeSchema as iso, scorePointSchema } from "@vigil/shared/schemas/web_api";
import { retentionRunSchema } from "@vigil/shared/retention/runs";

const counts = <K extends readonly [string, ...string[]]>(keys: K) =>
  z.strictObject(
    Object.fromEntries(keys.map((k) => [k, z.number().int()])) as {
      [P in K[number]]: z.ZodNumber;
    },
  );

/** `{"error": "…"}`: every refusal and failure. */
export const errorResponseSchema = z.strictObject({
  error: z.string().meta({ description: "What is wrong, e.g. Cannot read query: limit: …" }),
});

/** An anomaly (row of `anomaly_events`). */
export const anomalySchema = z.strictObject({
  id: z.string(),
  status: z.enum(["firing", "resolved"]),
  detected_at: iso,
  event_time: iso,
  type: z.enum(EVENT_TYPES),
  rule: z.string(),
  severity: z.enum(SEVERITIES),
  entity: z.string(),
  title: z.string(),
  message: z.string(),
  score: z.number().nullable(),
  details: z.record(z.string(), z.unknown()),
  evidence: z.array(evidenceSchema),
  resolved_at: iso.nullable(),
  trace_id: z.string().nullable(),
  stages: z.record(z.string(), z.unknown())
    .meta({ description: "Stage timestamps (ms): event, ingest, stored, published, notified" }),
  acknowledged_at: iso.nullable(),
  acknowledged_by: z.string().nullable(),
  ack_comment: z.string().nullable(),
});

/** `GET /api/anomalies`. */
export const anomalyPageSchema = z.strictObject({
  items: z.array(anomalySchema),
  next_cursor: z.string().nullable().meta({ description: "Pass as cursor; null on the last page" }),
});

/** One evidence event, resolved (web/evidence.ts). */
export const evidenceItemSchema = evidenceSchema.extend({
  available: z.boolean().meta({ description: "The stream still holds the entry" }),
  /** The event as the bridge stored it, when available and valid JSON. */
  event: z.unknown(),
  key: z.string().nullable(),
  ingest_ts: z.number().nullable(),
  traceparent: z.string().nullable(),
  /** Where the raw archive keeps the event. */
  archive: z.strictObject({
    /**
     * Folder of the object: `<prefix>/<topic>/dt=YYYY-MM-DD/hour=HH/`; `elsewhere`: the topic's
     * folder, `<prefix>/<topic>/`.
     */
    folder: z.string(),
    /**
     * Objects of this partition in that folder: `<partition>-<firstOffset>.ndjson.gz`;
     * `elsewhere`: the same under every hour folder, `dt=*\/hour=*\/<partition>-*.ndjson.gz`.
     */
    object_pattern: z.string(),
    /** Key of the object that holds the event, when the archive lister found it. */
    object: z.string().nullable(),
    /**
     * `found`: `object` holds the event; `not_archived`: no object covers it yet (the
     * archive flushes batches every minute or so); `elsewhere`: the archive stored it (its
     * progress record is past the offset), in an object filed under an hour not searched (a
     * Kafka timestamp far from the event's time), the one of the partition with the greatest
     * first offset not above the event's; `unknown`: the archive could not be listed or read.
     */
    lookup: z.enum(["found", "not_archived", "elsewhere", "unknown"]),
    /** `s3://bucket/<object or folder>` when a bucket is configured, else null. */
    url: z.string().nullable(),
  }),
  /** Why the entry could not be shown, when it could not. */
  problem: z.string().nullable(),
}).strict();

/** What the notifier did with an alert it kept out of digests (`notifier_alerts`). */
export const notifierFateSchema = z.strictObject({
  /** `inhibited` (a firing source alert suppressed it) or `recorded` (route without channel). */
  disposition: z.enum(["inhibited", "recorded"]),
  /** `inhibited`: the source alert's id. */
  inhibited_by: z.string().nullable(),
});

/** `GET /api/anomalies/:id`. */
export const anomalyDetailSchema = z.strictObject({
  anomaly: anomalySchema,
  evidence: z.array(evidenceItemSchema),
  silenced_by: silenceSchema.nullable(),
  notifier: notifierFateSchema.nullable().meta({
    description: "The notifier kept it out of digests: inhibited (by that alert's id), or " +
      "recorded only (its route has no channel); null otherwise",
  }),
});

/** `POST /api/anomalies/:id/ack`. */
export const ackResponseSchema = z.strictObject({ anomaly: anomalySchema });

/**
 * The `ack` event of `GET /api/live`: an anomaly acknowledged on any web instance (published on
 * `vigil:acks:live`); a page applies it to its row as to one acknowledged from its own detail.
 */
export const ackEventSchema = anomalySchema.pick({
  id: true,
  entity: true,
  acknowledged_by: true,
  ack_comment: true,
}).extend({ acknowledged_at: iso });

/** `POST /api/anomalies/:id/ack` of an anomaly acknowledged already (409): the first stands. */
export const ackConflictSchema = z.strictObject({
  error: z.string().meta({ description: "Already acknowledged by whom, when" }),
  anomaly: anomalySchema.meta({ description: "The anomaly with the acknowledgement that stands" }),
});

/** `GET /api/stats`. */
export const statsResponseSchema = z.strictObject({
  from: iso,
  to: iso,
  bucket: z.enum(["minute", "hour"]),
  points: z.array(z.strictObject({
    t: iso,
    type: z.string(),
    severity: z.string(),
    count: z.number().int(),
  })),
  totals: z.strictObject({
    all: z.number().int(),
    /** Of `all`, how many are not resolved. */
    open: z.number().int(),
    by_severity: counts(SEVERITIES),
    by_type: counts(EVENT_TYPES),
  }),
});

const seriesSchema = z.strictObject({
  measure: z.string(),
  points: z.array(scorePointSchema.strict()).meta({ description: "Oldest first" }),
  skipped: z.number().int().meta({ description: "Cache members that could not be read" }),
});

/** `GET /api/series/:type/:entity`. */
export const seriesResponseSchema = z.strictObject({
  type: z.enum(EVENT_TYPES),
  entity: z.string(),
  series: z.array(seriesSchema),
});

/** `GET /api/entities/:entity`. */
export const entityResponseSchema = z.strictObject({
  entity: z.string(),
  type: z.enum(EVENT_TYPES).nullable(),
  types: z.array(z.enum(EVENT_TYPES))
    .meta({ description: "Types with anomalies or cached series" }),
  state: z.strictObject({
    /** `firing`: some anomaly is open; `resolved`: all cleared; `quiet`: none recorded. */
    status: z.enum(["firing", "resolved", "quiet"]),
    anomalies: z.number().int(),
    open: z.number().int(),
    last_anomaly_at: iso.nullable(),
    last_seen_at: iso.nullable()
      .meta({ description: "Newest event time: a cached score point or an anomaly's event" }),
  }),
  anomalies: z.array(anomalySchema).meta({ description: "Newest first" }),
  series: z.array(seriesSchema.extend({ type: z.enum(EVENT_TYPES) }).strict()),
});

/** `GET /api/silences`. */
export const silenceListSchema = z.strictObject({ items: z.array(silenceSchema) });
/** `POST /api/silences`, `DELETE /api/silences/:id`. */
export const silenceResponseSchema = z.strictObject({ silence: silenceSchema });

const notificationCounts = {
  planned: z.number().int().meta({ description: "Notifications planned in the window" }),
  sent: z.number().int().meta({ description: "Notifications the channel accepted in the window" }),
  pending: z.number().int().meta({ description: "Notifications still waiting now" }),
  failed: z.number().int().meta({ description: "Planned in the window and given up" }),
  /** Alerts carried by the notifications sent in the window. */
  alerts_sent: z.number().int(),
};
const channelCounts = z.strictObject({ channel: z.string(), ...notificationCounts });

/** `GET /api/notifications/summary`. */
export const notificationSummarySchema = z.strictObject({
  from: iso,
  to: iso,
  window_ms: z.number().int(),
  /** By name, the notifier's `default` route last. */
  routes: z.array(z.strictObject({
    route: z.string(),
    digests: z.number().int(),
    digests_by_kind: z.record(z.string(), z.number().int()),
    alerts_in_digests: z.number().int(),
    waiting_alerts: z.number().int()
      .meta({ description: "Grouped alerts of the window not in a digest yet" }),
    channels: z.array(channelCounts),
  })),
  /** Totals per channel over every route. */
  channels: z.array(channelCounts),
  totals: z.strictObject({
    ...notificationCounts,
    digests: z.number().int(),
    waiting_alerts: z.number().int(),
  }),
  intake: z.strictObject({
    alerts: z.number().int(),
    by_disposition: z.record(z.string(), z.number().int()),
  }),
  notifier_api: z.boolean().meta({
    description: "NOTIFIER_URL is set: /api/notifications/preview and /test can reach the notifier",
  }),
});

/** `GET /health`. */
export const healthResponseSchema = z.object({
  status: z.enum(["ok", "warn", "degraded"]),
  ok: z.boolean(),
  checks: z.record(z.string(), z.enum(["ok", "warn", "fail"])),
  details: z.record(z.string(), z.unknown()),
  live_clients: z.number().int(),
});

/**
 * `GET /api/system/rules`: the detector's `GET /api/rules`, passed on (service_proxy.ts validates
 * the detector's answer with it).
 */
export const detectorRulesSchema = z.object({
  version: z.object({
    hash: z.string().meta({ description: "SHA-256 (hex) of the resolved rules" }),
    loaded_at: iso,
    source: z.string().meta({ description: "The rules file" }),
  }),
  last_rejected: z.object({ at: iso, trigger: z.string(), reason: z.string() }).nullable()
    .meta({ description: "The last file the detector refused (the old rules kept running)" }),
  rules: z.record(z.string(), z.unknown())
    .meta({ description: "The resolved rules (durations in ms)" }),
});

/** `GET /api/system/retention`. */
export const retentionStatusSchema = z.strictObject({
  last_run: retentionRunSchema.nullable().meta({ description: "null: no run recorded yet" }),
  next_run_at: iso.nullable()
    .meta({
      description: "When the notifier that recorded last_run runs the next, as it plans it: " +
        "finished_at + interval_ms, or after a catch-up pause as long as the run took " +
        "(10 s at least) when tables were left unfinished. null when unknown: no interval, " +
        "or the run was cut by shutdown (the next is a minute after the notifier starts). " +
        "A restart runs it a minute after start; another instance may run it sooner.",
    }),
  detector_api: z.boolean().meta({
    description: "DETECTOR_URL is set: /api/system/rules can reach the detector",
  }),
});
