/**
 * The three event types Vigil ingests. These zod schemas are the only
 * definition of the events; TypeScript types come from `z.infer`.
 *
 * Timestamps are accepted as ISO 8601 strings (any offset), epoch seconds or
 * epoch milliseconds, and normalised to ISO 8601 UTC with milliseconds.
 * Unknown extra fields are kept (passthrough), not rejected.
 *
 * @module
 */
import { z } from "zod";

/** Epoch values at or above this are milliseconds, below it seconds (year 2286 in s). */
const MS_THRESHOLD = 10_000_000_000;
const MIN_TIME = Date.UTC(1970, 0, 1);
const MAX_TIME = Date.UTC(2200, 0, 1);

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
  if (typeof v === "number") {
    return toIso(Math.abs(v) >= MS_THRESHOLD ? v : v * 1000, ctx);
  }
  // Fast path (the hot case: producers already send the normal form). The
  // round trip rejects impossible dates, which Date.parse would roll over.
  if (CANONICAL.test(v)) {
    const ms = Date.parse(v);
    if (ms >= MIN_TIME && ms <= MAX_TIME && new Date(ms).toISOString() === v) return v;
  }
  const s = v.trim();
  if (/^-?\d+(\.\d+)?$/.test(s)) {
    const n = Number(s);
    return toIso(Math.abs(n) >= MS_THRESHOLD ? n : n * 1000, ctx);
  }
  // Require a date-time with an explicit zone, or a bare date-time read as UTC.
  const m = ISO_DATE_TIME.exec(s);
  if (!m) {
    ctx.addIssue({ code: "custom", message: `not an ISO 8601 timestamp: ${s.slice(0, 40)}` });
    return z.NEVER;
  }
  // Date.parse rolls impossible dates over (Feb 30 → Mar 1): check the fields first.
  if (!isRealDateTime(m)) {
    ctx.addIssue({ code: "custom", message: `not a valid date-time: ${s.slice(0, 40)}` });
    return z.NEVER;
  }
  const hasZone = m[7] !== undefined;
  const ms = Date.parse(hasZone ? s.replace(" ", "T") : s.replace(" ", "T") + "Z");
  return toIso(ms, ctx);
});

const name = (max: number) => z.string().trim().min(1).max(max);

/** Log levels. */
export const LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"] as const;

/** An application log line. */
export const logEventSchema = z.looseObject({
  timestamp: timestampSchema,
  service: name(128),
  level: z.string().transform((s) => s.toUpperCase()).pipe(z.enum(LOG_LEVELS)),
  message: z.string().max(16_384),
  user_id: name(128).optional(),
});
export type LogEvent = z.infer<typeof logEventSchema>;

/** A service metric reading. */
export const metricEventSchema = z.looseObject({
  timestamp: timestampSchema,
  service: name(128),
  cpu: z.number().min(0).max(100),
  latency_ms: z.number().min(0).max(86_400_000),
  memory: z.number().min(0).optional(),
  error_rate: z.number().min(0).max(1).optional(),
});
export type MetricEvent = z.infer<typeof metricEventSchema>;

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

/** A payment transaction. */
export const transactionEventSchema = z.looseObject({
  timestamp: timestampSchema,
  transaction_id: name(128),
  user_id: name(128),
  amount: z.number().positive().max(1e12),
  currency: z.string().regex(/^[A-Za-z]{3}$/, "currency must be an ISO 4217 code").transform((
    s,
  ) => s.toUpperCase()),
  status: z.enum(TRANSACTION_STATUSES),
  merchant: name(256).optional(),
  country: z.string().regex(/^[A-Za-z]{2}$/, "country must be an ISO 3166 alpha-2 code")
    .transform((s) => s.toUpperCase()).optional(),
});
export type TransactionEvent = z.infer<typeof transactionEventSchema>;

/** Event types, which are also the Kafka topic names and stream suffixes. */
export const EVENT_TYPES = ["logs", "metrics", "transactions"] as const;
export type EventType = (typeof EVENT_TYPES)[number];
/** The Kafka topics Vigil consumes (same as {@link EVENT_TYPES}). */
export const TOPICS: readonly EventType[] = EVENT_TYPES;

/** Schema by event type. */
export const EVENT_SCHEMAS = {
  logs: logEventSchema,
  metrics: metricEventSchema,
  transactions: transactionEventSchema,
} as const;

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

/** Validate an already-decoded value as an event of `type`. */
export function parseEvent<T extends EventType>(type: T, value: unknown): ParseResult<EventOf<T>> {
  const result = EVENT_SCHEMAS[type].safeParse(value);
  if (result.success) return { ok: true, event: result.data as EventOf<T> };
  return { ok: false, reason: formatZodError(result.error) };
}

/** The entity an event belongs to (service for logs/metrics, user for transactions). */
export function entityOf(type: EventType, event: AnyEvent): string {
  if (type === "transactions") return (event as TransactionEvent).user_id;
  return (event as LogEvent | MetricEvent).service;
}
