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
 * `vigil:events:{<type>:<p>}` is exactly `canonicalize(type, JSON.parse(data)).data`
 * (a fixed point: same text, byte for byte), whatever form the message came
 * in, so a consumer can `JSON.parse` it and trust the types without
 * validating again. `bridge/classify_test.ts` checks it on every input form.
 *
 * Checking that form by hand costs a fraction of a zod parse. The bridge
 * first asks {@link isCanonicalText} whether the message text already is its
 * own canonical form (the producer's messages are: then it is stored as is,
 * without even a `JSON.parse`); otherwise it parses the text and calls
 * {@link canonicalize}, whose fast path {@link fastEvent} recognises values
 * already canonical. The zod schemas stay the authority: both fast paths
 * accept only what the schemas accept *unchanged* (a strict subset: same
 * output, since nothing is transformed) and decide nothing else, which then
 * gets exactly zod's verdict. `canonical_test.ts` feeds the same inputs to
 * every path (and 20,000 random edits to the text check).
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
  /** {@link canonicalize}: try the fast path first (false: zod only, for tests). @default {true} */
  fast?: boolean;
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
/** Required fields of each type (the others are optional). */
const REQUIRED: Record<EventType, ReadonlySet<string>> = {
  logs: new Set(["timestamp", "service", "level", "message"]),
  metrics: new Set(["timestamp", "service", "latency_ms"]),
  transactions: new Set([
    "timestamp",
    "transaction_id",
    "user_id",
    "amount",
    "currency",
    "status",
  ]),
};
/** Per type, per field: its kind and the text before its value, first and later. */
const TEXT_SPECS = Object.fromEntries(
  (Object.keys(TEXT_KINDS) as EventType[]).map((type) => [
    type,
    EVENT_FIELDS[type].map((key) => ({
      kind: TEXT_KINDS[type][key]!,
      required: REQUIRED[type].has(key),
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

/** A name the schema keeps as is, in raw JSON text (no control character). */
function isRawName(v: string, max: number): boolean {
  if (v.length < 1 || v.length > max || hasControl(v)) return false;
  // Printable ASCII at both ends cannot be trimmed; anything else may be white space.
  const a = v.charCodeAt(0), z = v.charCodeAt(v.length - 1);
  return (a > 32 && a < 127 && z > 32 && z < 127) || v.trim().length === v.length;
}

/** `n` upper-case ASCII letters. */
function isUpperCode(v: string, n: number): boolean {
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
  options: CanonicalOptions = {},
): CanonicalResult {
  if (options.fast !== false) {
    const fast = fastEvent(type, value, options);
    // Known fields first and no integer-like key: JSON.stringify keeps the order.
    if (fast !== null) {
      return { ok: true, event: fast.event, t: fast.t, data: JSON.stringify(fast.event) };
    }
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
