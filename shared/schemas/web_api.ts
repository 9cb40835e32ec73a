/**
 * Query and body schemas of the web service's HTTP API (`/api/...`), and the
 * tolerant schema of one point of a cached score series (the detector's
 * `vigil:scores:<type>:<entity>:<measure>` sorted sets).
 *
 * Query values arrive as strings; lists are comma-separated
 * (`severity=WARNING,CRITICAL`); times are ISO 8601 with an offset or epoch
 * milliseconds.
 *
 * @module
 */
import { z } from "zod";
import { EVENT_TYPES } from "./event.ts";
import { SEVERITIES } from "./alert.ts";

/** A comma-separated list of values of `values` (1..n distinct entries). */
function csvOf<T extends readonly [string, ...string[]]>(values: T) {
  return z.string().transform((s) => [...new Set(s.split(",").map((x) => x.trim()))])
    .pipe(z.array(z.enum(values)).min(1));
}

/** A point in time: ISO 8601 with offset, or epoch milliseconds; parsed to epoch ms. */
export const timeParamSchema = z.union([
  z.string().regex(/^\d{1,15}$/).transform(Number),
  z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
], { error: "must be an ISO 8601 time with offset or epoch milliseconds" });

const boolParam = z.enum(["true", "false"], { error: "must be true or false" })
  .transform((s) => s === "true");

/** `GET /api/anomalies` query. */
export const anomalyListQuerySchema = z.strictObject({
  type: csvOf(EVENT_TYPES).optional(),
  severity: z.string().transform((s) => s.toUpperCase()).pipe(csvOf(SEVERITIES)).optional(),
  rule: z.string().trim().min(1).max(200).optional(),
  entity: z.string().trim().min(1).max(500).optional(),
  /** Detected at or after (inclusive). */
  from: timeParamSchema.optional(),
  /** Detected before (exclusive). */
  to: timeParamSchema.optional(),
  resolved: boolParam.optional(),
  acknowledged: boolParam.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  /** Opaque cursor from a previous page's `next_cursor`. */
  cursor: z.string().min(1).max(400).optional(),
}).refine((q) => q.from === undefined || q.to === undefined || q.from < q.to, {
  message: "from must be before to",
  path: ["from"],
});
export type AnomalyListQuery = z.infer<typeof anomalyListQuerySchema>;

/** `GET /api/stats` query. Defaults: the last hour, per minute. */
export const statsQuerySchema = z.strictObject({
  from: timeParamSchema.optional(),
  to: timeParamSchema.optional(),
  bucket: z.enum(["minute", "hour"]).default("minute"),
});
export type StatsQuery = z.infer<typeof statsQuerySchema>;

/** `GET /api/series/:type/:entity` path parameters. */
export const seriesParamsSchema = z.object({
  type: z.enum(EVENT_TYPES),
  entity: z.string().min(1).max(500),
});

/** `GET /api/series/:type/:entity` query. Without `measure`, every measure of the entity. */
export const seriesQuerySchema = z.strictObject({
  measure: z.string().trim().min(1).max(200).regex(/^[^*?[\]\\]+$/, "must not hold * ? [ ] \\")
    .optional(),
  from: timeParamSchema.optional(),
  to: timeParamSchema.optional(),
  limit: z.coerce.number().int().min(1).max(5000).default(500),
});
export type SeriesQuery = z.infer<typeof seriesQuerySchema>;

/** `POST /api/anomalies/:id/ack` body. */
export const ackInputSchema = z.strictObject({
  by: z.string().trim().min(1).max(200),
  comment: z.string().max(2000).default(""),
});
export type AckInput = z.infer<typeof ackInputSchema>;

/**
 * One point of a score series as stored by the detector. The sorted-set score
 * is the event time in ms; the member is JSON `{"ts","value","score"}` (extra
 * fields ignored). `score` may be null while the model warms up.
 */
export const scorePointSchema = z.object({
  ts: z.number().finite(),
  value: z.number().finite(),
  score: z.number().finite().nullable().default(null),
});
export type ScorePoint = z.infer<typeof scorePointSchema>;
