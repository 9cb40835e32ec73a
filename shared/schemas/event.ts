/**
 * The three event types Vigil ingests. These zod schemas are the only
 * definition of the events; TypeScript types come from `z.infer`.
 *
 * Each schema's output is the event's **canonical form**, the one the bridge
 * appends to `vigil:events:{<type>:<p>}` (serialised by `canonicalText` in
 * `canonical.ts`), so a consumer can `JSON.parse` an entry and trust it:
 *
 * | type | fields, in this order (`?` = omitted when absent) |
 * |---|---|
 * | logs | `timestamp`, `service`, `level`, `message`, `user_id?` |
 * | metrics | `timestamp`, `service`, `cpu?`, `latency_ms`, `memory?`, `error_rate?` |
 * | transactions | `timestamp`, `transaction_id`, `user_id`, `amount`, `currency`, `status`, `merchant?`, `country?` |
 *
 * then the extra fields, in the order `JSON.parse` enumerates them.
 *
 * - `timestamp`: ISO 8601 (any offset), epoch seconds or epoch milliseconds
 *   (number or numeric string; below 1e10 = seconds) → ISO 8601 UTC with
 *   milliseconds, `2025-01-02T03:04:05.000Z`, between 1970 and 2200.
 * - `service`, `merchant`: identifiers (no control character, no lone
 *   surrogate, not `.` or `..`: rejected), trimmed, 1..128 (merchant 256) characters.
 * - `user_id`, `transaction_id`: the same, or a non-negative safe integer
 *   turned into its decimal string (`42` → `"42"`).
 * - `level`: upper-cased, one of {@link LOG_LEVELS}; `status`: lower-cased,
 *   one of {@link TRANSACTION_STATUSES}; `currency`/`country`: upper-cased
 *   ISO 4217 / ISO 3166 alpha-2 letters.
 * - `message`: free text up to 16,384 characters; NUL, other C0 controls
 *   but tab/LF/CR and lone surrogates become U+FFFD.
 * - numbers: finite JSON numbers in range, `-0` written `0`.
 * - extra fields: kept, cleaned and bounded (see `hygiene.ts`).
 *
 * @module
 */
import { z } from "zod";
import {
  cleanExtras,
  cleanText,
  DEFAULT_EXTRA_LIMITS,
  type ExtraLimits,
  identifierProblem,
  isPlainObject,
  noteProblem,
  resolveExtraLimits,
} from "./hygiene.ts";

/** Epoch values at or above this are milliseconds, below it seconds (year 2286 in s). */
const MS_THRESHOLD = 10_000_000_000;
/** The first and last instants an event's timestamp may name. */
export const MIN_TIME = Date.UTC(1970, 0, 1);
export const MAX_TIME = Date.UTC(2200, 0, 1);

function toIso(ms: number, ctx: z.RefinementCtx): string {
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: "custom", message: "not a valid date-time" });
    return z.NEVER;
  }
  if (!Number.isFinite(ms) || ms < MIN_TIME || ms > MAX_TIME) {
    ctx.addIssue({ code: "custom", message: "timestamp out of range (1970..2200)" });
    return z.NEVER;
  }
  return new Date(ms).toISOString();
}

/** Epoch seconds or milliseconds (see {@link MS_THRESHOLD}) as ISO 8601 UTC. */
function fromEpoch(n: number, ctx: z.RefinementCtx): string {
  return toIso(Math.abs(n) >= MS_THRESHOLD ? n : n * 1000, ctx);
}

/** The first 40 characters of `s` as a JSON string (control characters escaped). */
function excerpt(s: string): string {
  return JSON.stringify(s.slice(0, 40));
}

/** `YYYY-MM-DD[T ]hh:mm[:ss[.fff]][Z|±hh[:]mm]`; groups: Y, M, D, h, m, s, zone. */
const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/** Whether the matched fields name a real calendar date and time of day. */
function isRealDateTime(m: RegExpExecArray): boolean {
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = m.slice(1, 7)
    .map((x) => Number(x ?? 0));
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour <= 23 &&
    minute <= 59 && second <= 59;
}

/** The normalised form itself: `YYYY-MM-DDThh:mm:ss.fffZ`. */
const CANONICAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** ISO 8601 string, epoch seconds or epoch milliseconds → ISO 8601 UTC string. */
export const timestampSchema = z.custom<string | number>(
  (v) => typeof v === "string" || typeof v === "number",
  { message: "expected an ISO 8601 string or epoch seconds/milliseconds" },
).transform((v, ctx) => {
  if (typeof v === "number") return fromEpoch(v, ctx);
  // Fast path (the hot case: producers already send the normal form). The
  // round trip rejects impossible dates, which Date.parse would roll over.
  if (CANONICAL.test(v)) {
    const ms = Date.parse(v);
    if (ms >= MIN_TIME && ms <= MAX_TIME && new Date(ms).toISOString() === v) return v;
  }
  const s = v.trim();
  if (/^-?\d+(\.\d+)?$/.test(s)) return fromEpoch(Number(s), ctx);
  // Require a date-time with an explicit zone, or a bare date-time read as UTC.
  const m = ISO_DATE_TIME.exec(s);
  if (!m) {
    ctx.addIssue({ code: "custom", message: `not an ISO 8601 timestamp: ${excerpt(s)}` });
    return z.NEVER;
  }
  // Date.parse rolls impossible dates over (Feb 30 → Mar 1): check the fields first.
  if (!isRealDateTime(m)) {
    ctx.addIssue({ code: "custom", message: `not a valid date-time: ${excerpt(s)}` });
    return z.NEVER;
  }
  // Without a zone, read as UTC.
  return toIso(Date.parse(s.replace(" ", "T") + (m[7] === undefined ? "Z" : "")), ctx);
});

/** A refinement refusing a string `problemOf` finds fault with, saying why. */
export const refuseProblem =
  (problemOf: (s: string) => string | undefined) => (s: string, ctx: z.RefinementCtx) => {
    const problem = problemOf(s);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  };

/**
 * An identifier or name: a string without control characters or lone
 * surrogates (rejected, see hygiene.ts), trimmed, 1..max characters.
 */
export const identifier = (max: number) =>
  z.string().superRefine(refuseProblem(identifierProblem)).trim().min(1).max(max);

/** A comment people write (see {@link noteProblem}), at most `max` characters. */
export const note = (max: number) => z.string().max(max).superRefine(refuseProblem(noteProblem));

/**
 * An event's identifier: an {@link identifier} other than `.` and `..`, which
 * no URL path can carry (browsers and `fetch` remove them from
 * `/entities/<name>`, even percent-encoded), so the page could not show it.
 */
export const eventName = (max: number) =>
  identifier(max).refine((s) => !isDotSegment(s), {
    error: (issue) => `${JSON.stringify(issue.input)} cannot be an identifier (not in a URL path)`,
  });

/** Is `s` a URL dot segment (`.` or `..`)? */
export function isDotSegment(s: string): boolean {
  return s === "." || s === "..";
}

/**
 * An id: an {@link eventName}, or a non-negative safe integer turned into
 * its decimal string (`42` → `"42"`); larger integers lost precision in the
 * JSON parse already, so they are rejected.
 */
const id = (max: number) =>
  z.custom<string | number>(
    (v) => typeof v === "string" || typeof v === "number",
    { message: "expected a string or a non-negative integer" },
  ).transform((v, ctx) => {
    if (typeof v === "string") return v;
    if (!Number.isSafeInteger(v) || v < 0) {
      ctx.addIssue({
        code: "custom",
        message: "a numeric id must be an integer 0..9007199254740991 (send larger ids as strings)",
      });
      return z.NEVER;
    }
    return String(v);
  }).pipe(eventName(max));

/** A finite number in `[min, max]`; `-0` becomes `0`. */
const numberIn = (min: number, max: number) =>
  z.number().min(min).max(max).overwrite((n) => (n === 0 ? 0 : n));

/**
 * ASCII case folding: "any case" is the ASCII letters' (toUpperCase would also
 * read a dotless ı as I and the Kelvin sign as k, turning "ınfo" into INFO).
 */
export const asciiUpper = (s: string): string => s.replace(/[a-z]+/g, (m) => m.toUpperCase());
/** See {@link asciiUpper}. */
export const asciiLower = (s: string): string => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());

/** Log levels. */
export const LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"] as const;

/** Fields of a log line, in canonical order. */
const logFields = z.object({
  timestamp: timestampSchema,
  service: eventName(128),
  level: z.string().transform(asciiUpper).pipe(z.enum(LOG_LEVELS)),
  message: z.string().max(16_384).overwrite(cleanText),
  user_id: id(128).optional(),
});

/** Fields of a metric reading, in canonical order. */
const metricFields = z.object({
  timestamp: timestampSchema,
  service: eventName(128),
  /** Optional: the simulator's readings have latency and error rate only. */
  cpu: numberIn(0, 100).optional(),
  latency_ms: numberIn(0, 86_400_000),
  memory: numberIn(0, Number.MAX_VALUE).optional(),
  error_rate: numberIn(0, 1).optional(),
});

/** Transaction statuses. */
export const TRANSACTION_STATUSES = [
  "approved",
  "denied",
  "failed",
  "reversed",
  "backend_reversed",
  "pending",
] as const;
export type TransactionStatus = (typeof TRANSACTION_STATUSES)[number];

/**
 * Statuses without a baseline, so alerted CRITICAL on any count: the detector's default
 * `status_zscore.problem_statuses`, and what the producer's scenarios send.
 */
export const PROBLEM_STATUSES: readonly TransactionStatus[] = [
  "denied",
  "failed",
  "reversed",
  "backend_reversed",
];

/** Fields of a payment transaction, in canonical order. */
const transactionFields = z.object({
  timestamp: timestampSchema,
  transaction_id: id(128),
  user_id: id(128),
  amount: z.number().positive().max(1e12),
  currency: z.string().regex(/^[A-Za-z]{3}$/, "currency must be an ISO 4217 code")
    .transform((s) => s.toUpperCase()),
  status: z.string().transform(asciiLower).pipe(z.enum(TRANSACTION_STATUSES)),
  merchant: eventName(256).optional(),
  country: z.string().regex(/^[A-Za-z]{2}$/, "country must be an ISO 3166 alpha-2 code")
    .transform((s) => s.toUpperCase()).optional(),
});

/** An event: its schema's fields plus the extra ones kept. */
type WithExtras<T> = T & { [extra: string]: unknown };

/**
 * The event schema over known fields `fields`: the value must be a JSON
 * object; the known fields are validated and normalised, the extra ones
 * cleaned and bounded (hygiene.ts); the output holds the known fields in
 * schema order, then the extra ones in input order.
 */
function eventSchema<S extends z.ZodRawShape>(fields: z.ZodObject<S>, limits: ExtraLimits) {
  const names = Object.keys(fields.shape);
  const known = new Set(names);
  return z.custom<Record<string, unknown>>(isPlainObject, { message: "expected a JSON object" })
    .transform((obj, ctx) => {
      const picked: Record<string, unknown> = {};
      const extraKeys: string[] = [];
      for (const k of Object.keys(obj)) {
        if (known.has(k)) picked[k] = obj[k];
        else extraKeys.push(k);
      }
      const r = fields.safeParse(picked);
      if (!r.success) {
        for (const issue of r.error.issues) {
          ctx.addIssue({ code: "custom", message: issue.message, path: [...issue.path] });
        }
      }
      const extras = extraKeys.length > 0 ? cleanExtras(obj, extraKeys, limits) : undefined;
      if (extras && !extras.ok) {
        ctx.addIssue({ code: "custom", message: extras.message, path: extras.path });
      }
      if (!r.success || (extras && !extras.ok)) return z.NEVER;
      const out: Record<string, unknown> = {};
      const data = r.data as Record<string, unknown>;
      for (const k of names) if (data[k] !== undefined) out[k] = data[k];
      if (extras?.ok) { for (const [k, v] of extras.entries) out[k] = v; }
      return out as WithExtras<z.infer<typeof fields>>;
    });
}

function schemasFor(limits: ExtraLimits) {
  return {
    logs: eventSchema(logFields, limits),
    metrics: eventSchema(metricFields, limits),
    transactions: eventSchema(transactionFields, limits),
  } as const;
}

/** Schema by event type (with the default {@link ExtraLimits}). */
export const EVENT_SCHEMAS = schemasFor(DEFAULT_EXTRA_LIMITS);

/** An application log line. */
export const logEventSchema = EVENT_SCHEMAS.logs;
export type LogEvent = z.infer<typeof logEventSchema>;

/** A service metric reading. */
export const metricEventSchema = EVENT_SCHEMAS.metrics;
export type MetricEvent = z.infer<typeof metricEventSchema>;

/** A payment transaction. */
export const transactionEventSchema = EVENT_SCHEMAS.transactions;
export type TransactionEvent = z.infer<typeof transactionEventSchema>;

/** `f` of the known fields of each type. */
const perType = (f: (fields: z.ZodObject<Record<string, z.ZodType>>) => string[]) =>
  ({ logs: f(logFields), metrics: f(metricFields), transactions: f(transactionFields) }) as const;

/** The known fields of each type, in canonical order. */
export const EVENT_FIELDS = perType((fields) => Object.keys(fields.shape));

/** The required known fields of each type (the others are optional). */
export const REQUIRED_FIELDS = perType(requiredOf);

function requiredOf(fields: z.ZodObject<Record<string, z.ZodType>>): string[] {
  return Object.entries(fields.shape).filter(([, f]) => !f.safeParse(undefined).success)
    .map(([k]) => k);
}

/** Event types, which are also the Kafka topic names and stream suffixes. */
export const EVENT_TYPES = ["logs", "metrics", "transactions"] as const;
export type EventType = (typeof EVENT_TYPES)[number];
/** The Kafka topics Vigil consumes (same as {@link EVENT_TYPES}). */
export const TOPICS: readonly EventType[] = EVENT_TYPES;

const schemaCache = new Map<string, ReturnType<typeof schemasFor>>();

/** The schemas of every type under `limits` (cached per distinct limits). */
function schemasWith(limits: ExtraLimits): ReturnType<typeof schemasFor> {
  if (
    limits.maxFields === DEFAULT_EXTRA_LIMITS.maxFields &&
    limits.maxBytes === DEFAULT_EXTRA_LIMITS.maxBytes &&
    limits.maxDepth === DEFAULT_EXTRA_LIMITS.maxDepth
  ) return EVENT_SCHEMAS;
  const key = `${limits.maxFields}/${limits.maxBytes}/${limits.maxDepth}`;
  let schemas = schemaCache.get(key);
  if (!schemas) schemaCache.set(key, schemas = schemasFor(resolveExtraLimits(limits)));
  return schemas;
}

/** Any event, by type. */
export type EventOf<T extends EventType> = z.infer<(typeof EVENT_SCHEMAS)[T]>;
export type AnyEvent = LogEvent | MetricEvent | TransactionEvent;

/** Is `s` one of the event types? */
export function isEventType(s: string): s is EventType {
  return (EVENT_TYPES as readonly string[]).includes(s);
}

/** Result of {@link parseEvent}: the event, or a one-line reason. */
export type ParseResult<T> = { ok: true; event: T } | { ok: false; reason: string };

/** Short, readable reason for a zod error: `amount: Too small: expected number to be >0`. */
export function formatZodError(error: z.ZodError): string {
  return error.issues.slice(0, 5).map((i) =>
    `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`
  ).join("; ");
}

/**
 * Validate an already-decoded value as an event of `type`: the event in
 * canonical form (known fields normalised, in schema order, then the extra
 * fields cleaned), or a reason.
 */
export function parseEvent<T extends EventType>(
  type: T,
  value: unknown,
  limits: ExtraLimits = DEFAULT_EXTRA_LIMITS,
): ParseResult<EventOf<T>> {
  const result = schemasWith(limits)[type].safeParse(value);
  if (result.success) return { ok: true, event: result.data as EventOf<T> };
  return { ok: false, reason: formatZodError(result.error) };
}

/**
 * The event type of a decoded message on `topic`: the topic's type, except
 * for one documented shape. A message on `logs` that has no `level` and no
 * `message` but has `service` and `latency_ms` is a metric reading (the
 * simulator's record `{timestamp, service, latency_ms, error_rate}`), and is
 * validated and appended as a metric.
 */
export function eventTypeOf(topic: EventType, value: unknown): EventType {
  if (
    topic === "logs" && isPlainObject(value) && value.level === undefined &&
    value.message === undefined && value.service !== undefined && value.latency_ms !== undefined
  ) return "metrics";
  return topic;
}
