/**
 * The text half of the canonical form (see `canonical.ts`): whether a
 * message's JSON text already is its own canonical form, checked on the text
 * without parsing it, and the canonical timestamp check both halves use.
 *
 * @module
 */
import {
  EVENT_FIELDS,
  type EventType,
  isDotSegment,
  LOG_LEVELS,
  MAX_TIME,
  MIN_TIME,
  REQUIRED_FIELDS,
  TRANSACTION_STATUSES,
} from "./event.ts";
import { forbiddenInIdentifierAt } from "./hygiene.ts";

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

/** The log levels and transaction statuses, to look a value up in. */
export const LEVELS = new Set<unknown>(LOG_LEVELS);
export const STATUSES = new Set<unknown>(TRANSACTION_STATUSES);

/** How {@link isCanonicalText} checks one known field's value. */
const enum Kind {
  Time,
  Name128,
  Name256,
  Level,
  Text,
  Currency,
  Status,
  Country,
  Cpu,
  Latency,
  Memory,
  ErrorRate,
  Amount,
}

const TEXT_KINDS: Record<EventType, Record<string, Kind>> = {
  logs: {
    timestamp: Kind.Time,
    service: Kind.Name128,
    level: Kind.Level,
    message: Kind.Text,
    user_id: Kind.Name128,
  },
  metrics: {
    timestamp: Kind.Time,
    service: Kind.Name128,
    cpu: Kind.Cpu,
    latency_ms: Kind.Latency,
    memory: Kind.Memory,
    error_rate: Kind.ErrorRate,
  },
  transactions: {
    timestamp: Kind.Time,
    transaction_id: Kind.Name128,
    user_id: Kind.Name128,
    amount: Kind.Amount,
    currency: Kind.Currency,
    status: Kind.Status,
    merchant: Kind.Name256,
    country: Kind.Country,
  },
};
/** Per type, per field: its kind and the text before its value, first and later. */
const TEXT_SPECS = Object.fromEntries(
  (Object.keys(TEXT_KINDS) as EventType[]).map((type) => [
    type,
    EVENT_FIELDS[type].map((key) => ({
      kind: TEXT_KINDS[type][key]!,
      required: REQUIRED_FIELDS[type].includes(key),
      first: `{"${key}":`,
      later: `,"${key}":`,
    })),
  ]),
) as Record<EventType, { kind: Kind; required: boolean; first: string; later: string }[]>;

/** Does `s` hold a C0 control character (raw: JSON would have refused it)? */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) < 32) return true;
  return false;
}

/** A name the schema keeps as is, in raw JSON text (no character identifiers refuse). */
function isRawName(v: string, max: number): boolean {
  if (v.length < 1 || v.length > max || forbiddenInIdentifierAt(v) !== -1 || isDotSegment(v)) {
    return false;
  }
  // Printable ASCII at both ends cannot be trimmed; anything else may be white space.
  const a = v.charCodeAt(0), z = v.charCodeAt(v.length - 1);
  return (a > 32 && a < 127 && z > 32 && z < 127) || v.trim().length === v.length;
}

/** `n` upper-case ASCII letters. */
export function isUpperCode(v: string, n: number): boolean {
  if (v.length !== n) return false;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c < 65 || c > 90) return false;
  }
  return true;
}

function stringOk(kind: Kind, v: string): boolean {
  switch (kind) {
    case Kind.Time:
      return !Number.isNaN(canonicalTime(v));
    case Kind.Name128:
      return isRawName(v, 128);
    case Kind.Name256:
      return isRawName(v, 256);
    case Kind.Level:
      return LEVELS.has(v);
    case Kind.Text:
      return v.length <= 16_384 && !hasControl(v);
    case Kind.Currency:
      return isUpperCode(v, 3);
    case Kind.Status:
      return STATUSES.has(v);
    case Kind.Country:
      return isUpperCode(v, 2);
    default:
      return false;
  }
}

function numberOk(kind: Kind, n: number): boolean {
  switch (kind) {
    case Kind.Cpu:
      return n >= 0 && n <= 100;
    case Kind.Latency:
      return n >= 0 && n <= 86_400_000;
    case Kind.Memory:
      return n >= 0 && n <= Number.MAX_VALUE;
    case Kind.ErrorRate:
      return n >= 0 && n <= 1;
    case Kind.Amount:
      return n > 0 && n <= 1e12;
    default:
      return false;
  }
}

/**
 * Whether `text` already is exactly the canonical JSON text of a valid
 * event of `type` with no extra field (what the producer sends), checked on
 * the text itself without parsing it: each known field in schema order, no
 * whitespace, no escape, no control character or lone surrogate, string
 * values the schema keeps unchanged, numbers written as JavaScript writes
 * them. When true, `canonicalize(type, JSON.parse(text)).data === text`
 * (`canonical_test.ts`); when false, nothing is decided (parse it).
 */
export function isCanonicalText(type: EventType, text: string): boolean {
  const last = text.length - 1;
  if (text.charCodeAt(last) !== 125 || text.indexOf("\\") !== -1 || !text.isWellFormed()) {
    return false;
  }
  let i = 0;
  let first = true;
  for (const spec of TEXT_SPECS[type]) {
    const head = first ? spec.first : spec.later;
    if (!text.startsWith(head, i)) {
      if (spec.required) return false;
      continue;
    }
    i += head.length;
    first = false;
    if (spec.kind < Kind.Cpu) {
      if (text.charCodeAt(i) !== 34) return false; // "
      // No backslash: the string ends at the next quote.
      const end = text.indexOf('"', i + 1);
      if (end < 0 || !stringOk(spec.kind, text.slice(i + 1, end))) return false;
      i = end + 1;
    } else {
      let j = i;
      for (; j < last; j++) {
        const c = text.charCodeAt(j);
        if (c === 44 || c === 125) break; // , }
      }
      const literal = text.slice(i, j);
      const n = Number(literal);
      // The literal JavaScript writes for n: a JSON number, finite, not -0.
      if (String(n) !== literal || !numberOk(spec.kind, n)) return false;
      i = j;
    }
  }
  return i === last;
}
