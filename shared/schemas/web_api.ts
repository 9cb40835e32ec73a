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
import { EVENT_TYPES, identifier, note, refuseProblem } from "./event.ts";
import { SEVERITIES } from "./alert.ts";
import { identifierProblem } from "./hygiene.ts";

/** A comma-separated list of values of `values` (1..n distinct entries). */
function csvOf<T extends readonly [string, ...string[]]>(values: T) {
  return z.string().transform((s) => [...new Set(s.split(",").map((x) => x.trim()))])
    .pipe(z.array(z.enum(values)).min(1));
}

/**
 * A count in a query (`limit`, `points`): decimal digits only (`0x10`, `1e2`
 * and ` 5` are refused, as `Number()` would read them), from 1 to `max`. Its
 * description (`what`, the range, the default) is what the OpenAPI document
 * and the API docs page say of it: the pattern alone told neither.
 */
export function queryCount(max: number, fallback: number, what = "How many to answer") {
  const message = `must be a whole number from 1 to ${max}`;
  return z.string().regex(/^\d{1,10}$/, message).transform(Number)
    .pipe(z.number().min(1, message).max(max, message))
    .default(fallback)
    .meta({ description: `${what}: a whole number from 1 to ${max} (default ${fallback})` });
}

/** A time in an answer, as `Date.prototype.toISOString` writes it. */
export const isoTimeSchema = z.string().meta({ description: "ISO 8601 time (UTC)" });

/** The first and last instants PostgreSQL reads back from an ISO time (years 1 to 9999). */
export const POSTGRES_FIRST_MS = Date.parse("0001-01-01T00:00:00Z");
/** See {@link POSTGRES_FIRST_MS}. */
export const POSTGRES_LAST_MS = Date.parse("9999-12-31T23:59:59.999Z");

/** Whether PostgreSQL can store and compare `ms` as a timestamp (no year 0, no five-digit year). */
export function isPostgresTime(ms: number): boolean {
  return ms >= POSTGRES_FIRST_MS && ms <= POSTGRES_LAST_MS;
}

const SUB_MS = "must be to the millisecond at most (3 decimals): a finer time cannot be " +
  "compared exactly";

/**
 * A point in time: ISO 8601 with offset, or epoch milliseconds; parsed to
 * epoch ms, in years 1 to 9999 (PostgreSQL refuses year 0 and five-digit years).
 */
export const timeParamSchema = z.union([
  z.string().regex(/^\d{1,15}$/).transform(Number),
  // Milliseconds at most: the time is kept as epoch ms, and a finer one (`.000500`) was cut to
  // `.000`, so `from` took rows before it and `to` left out rows before it.
  z.iso.datetime({ offset: true }).refine((s) => !/\.\d{3}\d*[1-9]/.test(s), {
    error: SUB_MS,
  }).transform((s) => Date.parse(s)),
], {
  // `+01:00` unencoded in a URL arrives as ` 01:00`: say so, else the time looks right.
  error: (issue) =>
    issue.code === "invalid_union" &&
      issue.errors.some((branch) => branch.some((i) => i.message === SUB_MS))
      ? SUB_MS
      : typeof issue.input === "string" && /\s\d{2}:?\d{2}$/.test(issue.input)
      ? `must be an ISO 8601 time with offset or epoch milliseconds: its "+" arrived as a space; write it %2B in a URL (${
        // With the colon the API reads (`%2B0100` was refused in turn).
        issue.input.slice(-40).replace(/\s(\d{2}):?(\d{2})$/, "%2B$1:$2")})`
      : "must be an ISO 8601 time with offset or epoch milliseconds",
})
  .refine(isPostgresTime, {
    error: "must be between 0001-01-01 and 9999-12-31 (UTC)",
  });

const boolParam = z.enum(["true", "false"], { error: "must be true or false" })
  .transform((s) => s === "true");

/**
 * An anomaly id in a path (`/api/anomalies/:id`, `/alerts/:id`): no control, bidirectional control
 * or invisible character, which no id holds (hashes, or a dispatch's printable ASCII `id`): the 404
 * quoted a crafted one raw, its text then shown reversed.
 */
export const anomalyIdSchema = z.string().min(1).max(500).superRefine(
  refuseProblem(identifierProblem),
);

/** `/api/anomalies/:id` and `/alerts/:id` path parameters. */
export const anomalyIdParamsSchema = z.object({ id: anomalyIdSchema });

/** A query's `from` before its `to` when both are given (the refinement and its issue). */
const fromBeforeTo = (q: { from?: number | undefined; to?: number | undefined }) =>
  q.from === undefined || q.to === undefined || q.from < q.to;
const FROM_AFTER_TO = { message: "from must be before to", path: ["from"] };

/** `GET /api/anomalies` query. */
export const anomalyListQuerySchema = z.strictObject({
  type: csvOf(EVENT_TYPES).optional()
    .meta({ description: "Comma list of logs, metrics, transactions", example: "logs,metrics" }),
  severity: z.string().transform((s) => s.toUpperCase()).pipe(csvOf(SEVERITIES)).optional()
    .meta({ description: "Comma list of INFO, WARNING, CRITICAL (any case)" }),
  rule: z.string().trim().min(1).max(200).optional().meta({ description: "Rule name" }),
  entity: z.string().trim().min(1).max(500).optional()
    .meta({ description: "Service, user or status" }),
  /** Detected at or after (inclusive). */
  from: timeParamSchema.optional()
    .meta({ description: "Detected at or after (ISO 8601 with offset, or epoch ms)" }),
  /** Detected before (exclusive). */
  to: timeParamSchema.optional()
    .meta({ description: "Detected before (ISO 8601 with offset, or epoch ms)" }),
  resolved: boolParam.optional().meta({ description: "Only resolved (true) or open (false)" }),
  acknowledged: boolParam.optional()
    .meta({ description: "Only acknowledged (true) or unacknowledged (false)" }),
  limit: queryCount(500, 50),
  /** Opaque cursor from a previous page's `next_cursor`. */
  cursor: z.string().min(1).max(400).optional()
    .meta({ description: "The previous page's next_cursor" }),
}).refine(fromBeforeTo, FROM_AFTER_TO);
export type AnomalyListQuery = z.infer<typeof anomalyListQuerySchema>;

/** `GET /api/stats` query. Defaults: the last hour, per minute. */
export const statsQuerySchema = z.strictObject({
  from: timeParamSchema.optional(),
  to: timeParamSchema.optional(),
  bucket: z.enum(["minute", "hour"]).default("minute"),
});

/**
 * An entity in a path: as stored, so not trimmed, but without a control, bidirectional control or
 * invisible character, which no event's identifier holds: a crafted link showed `\u202eevil` as
 * an entity "live" without anomalies.
 */
const entityParam = z.string().min(1).max(500).superRefine(refuseProblem(identifierProblem));

/** `GET /api/series/:type/:entity` path parameters. */
export const seriesParamsSchema = z.object({
  type: z.enum(EVENT_TYPES),
  entity: entityParam,
});

/** `GET /api/series/:type/:entity` query. Without `measure`, every measure of the entity. */
export const seriesQuerySchema = z.strictObject({
  measure: z.string().trim().min(1, "must not be empty").max(200, "must be at most 200 characters")
    // No ':' either: in vigil:scores:<type>:<entity>:<measure> it would name another entity's key.
    .regex(/^[^:*?[\]\\]*$/, "must not contain :, *, ?, [, ] or \\")
    .optional(),
  from: timeParamSchema.optional(),
  to: timeParamSchema.optional(),
  limit: queryCount(5000, 500),
}).refine(fromBeforeTo, FROM_AFTER_TO);

/** `GET /api/entities/:entity` path parameters. */
export const entityParamsSchema = z.object({
  entity: entityParam.meta({ description: "Service, user or status" }),
});

/** `GET /api/entities/:entity` query. */
export const entityQuerySchema = z.strictObject({
  type: z.enum(EVENT_TYPES).optional()
    .meta({ description: "Only this event type (default: every type)" }),
  limit: queryCount(200, 20, "Most recent anomalies listed"),
  points: queryCount(1000, 300, "Most cached points per series"),
});

/** `GET /api/silences` query. */
export const silenceListQuerySchema = z.strictObject({
  active: boolParam.optional()
    .meta({ description: "Only active (true) or pending/expired (false) silences" }),
  limit: queryCount(5000, 500),
});

/** `DELETE /api/silences/:id` path parameter. */
export const silenceIdSchema = z.string().min(1).max(200);

/** Longest window of `GET /api/notifications/summary`. */
export const MAX_SUMMARY_WINDOW_MS = 24 * 3_600_000;

/** `GET /api/notifications/summary` query. */
export const notificationSummaryQuerySchema = z.strictObject({
  window: z.string().regex(/^\d{1,4}(m|h)$/, "must be minutes or hours, e.g. 30m or 1h")
    .transform((s) => Number(s.slice(0, -1)) * (s.endsWith("h") ? 3_600_000 : 60_000))
    .pipe(
      z.number().min(60_000, "must be at least 1m").max(
        MAX_SUMMARY_WINDOW_MS,
        "must be at most 24h",
      ),
    )
    .prefault("1h")
    .meta({ description: "How far back from now, e.g. 30m, 1h (default), 24h" }),
});

/** `POST /api/anomalies/:id/ack` body. */
export const ackInputSchema = z.strictObject({
  /** A name, like an identifier: one line, no control or bidirectional control character. */
  by: identifier(200),
  comment: note(2000).default(""),
});
export type AckInput = z.infer<typeof ackInputSchema>;

/**
 * One point of a score series as stored by the detector. The sorted-set score
 * is the event time in ms; the member is `ts:score:value[:low:high]` or JSON
 * `{"ts","value","score","low","high"}` (extra fields ignored). `score` may
 * be null while the model warms up; `low`/`high` (the band the engine
 * expected the value in) are there when the detector wrote them.
 */
export const scorePointSchema = z.object({
  ts: z.number().finite(),
  value: z.number().finite(),
  score: z.number().finite().nullable().default(null),
  low: z.number().finite().optional(),
  high: z.number().finite().optional(),
});
export type ScorePoint = z.infer<typeof scorePointSchema>;
