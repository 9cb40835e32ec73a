/**
 * The canonical form of an event: what the zod schemas of `event.ts` output
 * (ISO timestamps with milliseconds in UTC, trimmed names, upper-case levels
 * and codes). Checking that form by hand costs a fraction of a zod parse; the
 * bridge (on every Kafka message) and the detector (on every stream entry)
 * use it as their fast path.
 *
 * The zod schemas stay the authority: {@link fastEvent} accepts only values
 * the schemas accept *unchanged* (a strict subset: same output, since nothing
 * is transformed) and returns null for anything else, which the caller then
 * parses with zod, so errors and unusual inputs get exactly zod's verdict.
 * `detector/fast_parse_test.ts` checks the agreement.
 *
 * @module
 */
import { type AnyEvent, type EventType, LOG_LEVELS, TRANSACTION_STATUSES } from "./event.ts";

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
function isName(v: unknown, max: number): boolean {
  return typeof v === "string" && v.length >= 1 && v.length <= max && v.trim().length === v.length;
}

function optionalName(v: unknown, max: number): boolean {
  return v === undefined || isName(v, max);
}

function isNumberIn(v: unknown, min: number, max: number): boolean {
  return typeof v === "number" && v >= min && v <= max;
}

const LEVELS = new Set<unknown>(LOG_LEVELS);
const STATUSES = new Set<unknown>(TRANSACTION_STATUSES);
const CURRENCY = /^[A-Z]{3}$/;
const COUNTRY = /^[A-Z]{2}$/;

/**
 * `value` (decoded JSON) as an event of `type` with its time, when it is in
 * the canonical form; null otherwise (parse it with zod).
 */
export function fastEvent(
  type: EventType,
  value: unknown,
): { event: AnyEvent; t: number } | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const e = value as Record<string, unknown>;
  const t = canonicalTime(e.timestamp);
  if (Number.isNaN(t)) return null;
  let ok: boolean;
  switch (type) {
    case "logs":
      ok = isName(e.service, 128) && LEVELS.has(e.level) && typeof e.message === "string" &&
        e.message.length <= 16_384 && optionalName(e.user_id, 128);
      break;
    case "metrics":
      ok = isName(e.service, 128) && isNumberIn(e.cpu, 0, 100) &&
        isNumberIn(e.latency_ms, 0, 86_400_000) &&
        (e.memory === undefined || isNumberIn(e.memory, 0, Infinity)) &&
        (e.error_rate === undefined || isNumberIn(e.error_rate, 0, 1));
      break;
    case "transactions":
      ok = isName(e.transaction_id, 128) && isName(e.user_id, 128) &&
        typeof e.amount === "number" && e.amount > 0 && e.amount <= 1e12 &&
        typeof e.currency === "string" && CURRENCY.test(e.currency) && STATUSES.has(e.status) &&
        optionalName(e.merchant, 256) &&
        (e.country === undefined || (typeof e.country === "string" && COUNTRY.test(e.country)));
      break;
    default:
      ok = false;
  }
  return ok ? { event: e as unknown as AnyEvent, t } : null;
}
