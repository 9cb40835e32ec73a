/**
 * The canonical form of an event and the fast path to it.
 *
 * The canonical form is what the zod schemas of `event.ts` output, written
 * as JSON by {@link canonicalText}: the known fields of the type in schema
 * order (optional ones omitted when absent), ISO timestamps with
 * milliseconds in UTC, trimmed ids and names, upper-case levels and codes,
 * numeric ids as strings, finite numbers (`-0` as `0`), clean text, then
 * the extra fields, cleaned and bounded (`hygiene.ts`). The table of
 * fields and every rule are in `event.ts`.
 *
 * **The bridge's guarantee:** the `data` field of every entry it appends to
 * `vigil:events:<type>` is exactly `canonicalize(type, JSON.parse(data)).data`
 * (a fixed point: same text, byte for byte), whatever form the message came
 * in, so a consumer can `JSON.parse` it and trust the types without
 * validating again. `bridge/classify_test.ts` checks it on every input form.
 *
 * Checking that form by hand costs a fraction of a zod parse; the bridge (on
 * every Kafka message) uses {@link fastEvent} as its fast path. The zod
 * schemas stay the authority: {@link fastEvent} accepts only values the
 * schemas accept *unchanged* (a strict subset: same output, since nothing is
 * transformed) and returns null for anything else, which the caller then
 * parses with zod, so errors and unusual inputs get exactly zod's verdict.
 * `canonical_test.ts` feeds the same inputs to both paths.
 *
 * @module
 */
import {
  type AnyEvent,
  EVENT_FIELDS,
  type EventType,
  LOG_LEVELS,
  parseEvent,
  TRANSACTION_STATUSES,
} from "./event.ts";
import {
  cleanExtras,
  DEFAULT_EXTRA_LIMITS,
  type ExtraLimits,
  isCleanIdentifier,
  isCleanText,
} from "./hygiene.ts";

const MIN_TIME = Date.UTC(1970, 0, 1);
const MAX_TIME = Date.UTC(2200, 0, 1);
const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Two (or three) decimal digits at `i`, else -1. */
function digits(s: string, i: number, n: 2 | 3): number {
  let v = 0;
  for (let k = 0; k < n; k++) {
    const d = s.charCodeAt(i + k) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

let lastText = "";
let lastMs = NaN;

/**
 * Epoch ms of a canonical timestamp (`2025-01-01T00:00:00.000Z`, a real
 * calendar date and time of day, 1970..2200), else NaN.
 */
export function canonicalTime(v: unknown): number {
  if (typeof v !== "string" || v.length !== 24) return NaN;
  if (v === lastText) return lastMs; // events of one batch often share their timestamp
  if (
    v.charCodeAt(4) !== 45 || v.charCodeAt(7) !== 45 || v.charCodeAt(10) !== 84 ||
    v.charCodeAt(13) !== 58 || v.charCodeAt(16) !== 58 || v.charCodeAt(19) !== 46 ||
    v.charCodeAt(23) !== 90
  ) return NaN;
  const hi = digits(v, 0, 2), lo = digits(v, 2, 2);
  const month = digits(v, 5, 2), day = digits(v, 8, 2);
  const hour = digits(v, 11, 2), minute = digits(v, 14, 2), second = digits(v, 17, 2);
  const milli = digits(v, 20, 3);
  if (hi < 0 || lo < 0 || milli < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59) {
    return NaN;
  }
  if (second < 0 || second > 59 || month < 1 || month > 12 || day < 1) return NaN;
  const year = hi * 100 + lo;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS[month - 1]!)) return NaN;
  if (year < 1970) return NaN;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second, milli);
  if (!(ms >= MIN_TIME && ms <= MAX_TIME)) return NaN;
  lastText = v;
  lastMs = ms;
  return ms;
}

/** A name the schema keeps as is: a string of 1..max chars without surrounding whitespace. */
function isName(v: unknown, max: number, clean: boolean): boolean {
  return typeof v === "string" && v.length >= 1 && v.length <= max &&
    v.trim().length === v.length && (clean || isCleanIdentifier(v));
}

function optionalName(v: unknown, max: number, clean: boolean): boolean {
  return v === undefined || isName(v, max, clean);
}

/** A number in `[min, max]` other than `-0` (the schema would write it `0`). */
function isNumberIn(v: unknown, min: number, max: number): boolean {
  return typeof v === "number" && v >= min && v <= max && (v !== 0 || 1 / v > 0);
}

const LEVELS = new Set<unknown>(LOG_LEVELS);
const STATUSES = new Set<unknown>(TRANSACTION_STATUSES);
const CURRENCY = /^[A-Z]{3}$/;
const COUNTRY = /^[A-Z]{2}$/;
const KNOWN: Record<EventType, ReadonlySet<string>> = {
  logs: new Set(EVENT_FIELDS.logs),
  metrics: new Set(EVENT_FIELDS.metrics),
  transactions: new Set(EVENT_FIELDS.transactions),
};

/** Options of {@link fastEvent} and {@link canonicalize}. */
export interface CanonicalOptions {
  /**
   * The caller knows no string in the value holds a control character or a
   * lone surrogate: the JSON text it was parsed from has no backslash (JSON
   * can carry those only as escapes). Skips the per-string checks.
   * @default {false}
   */
  clean?: boolean;
  /** Bounds on extra fields. @default {DEFAULT_EXTRA_LIMITS} */
  limits?: ExtraLimits;
}

/**
 * `value` (decoded JSON) as an event of `type` with its time, when it is
 * already in the canonical form: known fields valid and normalised, in
 * canonical order and before any extra field, extra fields that cleaning
 * would not change and within the limits. Null otherwise (use zod).
 */
export function fastEvent(
  type: EventType,
  value: unknown,
  options: CanonicalOptions = {},
): { event: AnyEvent; t: number } | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const e = value as Record<string, unknown>;
  const clean = options.clean ?? false;
  // Key order: the known fields in canonical order (optional ones may be
  // absent), then the extra ones. An integer-like key would come first.
  const names = EVENT_FIELDS[type];
  const known = KNOWN[type];
  let p = 0;
  let extraKeys: string[] | undefined;
  for (const k in e) {
    if (extraKeys === undefined) {
      while (p < names.length && names[p] !== k) p++;
      if (p < names.length) {
        p++;
        continue;
      }
      extraKeys = [];
    }
    if (known.has(k)) return null;
    extraKeys.push(k);
  }
  const t = canonicalTime(e.timestamp);
  if (Number.isNaN(t)) return null;
  let ok: boolean;
  switch (type) {
    case "logs":
      ok = isName(e.service, 128, clean) && LEVELS.has(e.level) &&
        typeof e.message === "string" && e.message.length <= 16_384 &&
        (clean || isCleanText(e.message)) && optionalName(e.user_id, 128, clean);
      break;
    case "metrics":
      ok = isName(e.service, 128, clean) && (e.cpu === undefined || isNumberIn(e.cpu, 0, 100)) &&
        isNumberIn(e.latency_ms, 0, 86_400_000) &&
        (e.memory === undefined || isNumberIn(e.memory, 0, Number.MAX_VALUE)) &&
        (e.error_rate === undefined || isNumberIn(e.error_rate, 0, 1));
      break;
    case "transactions":
      ok = isName(e.transaction_id, 128, clean) && isName(e.user_id, 128, clean) &&
        typeof e.amount === "number" && e.amount > 0 && e.amount <= 1e12 &&
        typeof e.currency === "string" && CURRENCY.test(e.currency) && STATUSES.has(e.status) &&
        optionalName(e.merchant, 256, clean) &&
        (e.country === undefined || (typeof e.country === "string" && COUNTRY.test(e.country)));
      break;
    default:
      ok = false;
  }
  if (!ok) return null;
  if (extraKeys !== undefined) {
    const extras = cleanExtras(e, extraKeys, options.limits ?? DEFAULT_EXTRA_LIMITS);
    if (!extras.ok || extras.changed) return null;
  }
  return { event: e as unknown as AnyEvent, t };
}

/**
 * The canonical JSON text of an event in canonical form (a zod output or a
 * {@link fastEvent} value): the known fields of `type` in schema order, then
 * the others in enumeration order.
 */
export function canonicalText(type: EventType, event: Record<string, unknown>): string {
  const known = KNOWN[type];
  const head: Record<string, unknown> = {};
  for (const k of EVENT_FIELDS[type]) if (event[k] !== undefined) head[k] = event[k];
  let text = JSON.stringify(head);
  const extras: string[] = [];
  for (const k of Object.keys(event)) {
    if (!known.has(k)) extras.push(JSON.stringify(k) + ":" + JSON.stringify(event[k]));
  }
  if (extras.length > 0) text = text.slice(0, -1) + "," + extras.join(",") + "}";
  return text;
}

/** Result of {@link canonicalize}. */
export type CanonicalResult =
  | { ok: true; event: AnyEvent; t: number; data: string }
  | { ok: false; reason: string };

/**
 * Validate `value` as an event of `type` and give its canonical JSON text:
 * by the fast path when it is already canonical, else by the zod schemas
 * (the authority; same rules, see `canonical_test.ts`). `fast: false` skips
 * the fast path (tests compare both).
 */
export function canonicalize(
  type: EventType,
  value: unknown,
  options: CanonicalOptions & { fast?: boolean } = {},
): CanonicalResult {
  if (options.fast !== false) {
    const fast = fastEvent(type, value, options);
    // Known fields first and no integer-like key: JSON.stringify keeps the order.
    if (fast !== null) return { ok: true, ...fast, data: JSON.stringify(fast.event) };
  }
  const parsed = parseEvent(type, value, options.limits ?? DEFAULT_EXTRA_LIMITS);
  if (!parsed.ok) return parsed;
  const event = parsed.event as Record<string, unknown>;
  return {
    ok: true,
    event: parsed.event,
    t: Date.parse(parsed.event.timestamp),
    data: canonicalText(type, event),
  };
}
