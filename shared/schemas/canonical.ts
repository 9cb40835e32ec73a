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
import { type AnyEvent, EVENT_FIELDS, type EventType, isDotSegment, parseEvent } from "./event.ts";
import {
  cleanExtras,
  DEFAULT_EXTRA_LIMITS,
  type ExtraLimits,
  forbiddenInIdentifierAt,
  isCleanIdentifier,
  isCleanText,
} from "./hygiene.ts";
import { canonicalTime, isUpperCode, LEVELS, STATUSES } from "./canonical_text.ts";

export { canonicalTime, isCanonicalText } from "./canonical_text.ts";

/**
 * A name the schema keeps as is: a clean identifier of 1..max chars without
 * surrounding whitespace. `clean` text has no lone surrogate and no C0
 * control, but may hold the other characters identifiers refuse.
 */
function isName(v: unknown, max: number, clean: boolean): boolean {
  return typeof v === "string" && v.length >= 1 && v.length <= max &&
    v.trim().length === v.length && !isDotSegment(v) &&
    (clean ? forbiddenInIdentifierAt(v) === -1 : isCleanIdentifier(v));
}

function optionalName(v: unknown, max: number, clean: boolean): boolean {
  return v === undefined || isName(v, max, clean);
}

/** A number in `[min, max]` other than `-0` (the schema would write it `0`). */
function isNumberIn(v: unknown, min: number, max: number): boolean {
  return typeof v === "number" && v >= min && v <= max && (v !== 0 || 1 / v > 0);
}

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
        typeof e.currency === "string" && isUpperCode(e.currency, 3) && STATUSES.has(e.status) &&
        optionalName(e.merchant, 256, clean) &&
        (e.country === undefined || (typeof e.country === "string" && isUpperCode(e.country, 2)));
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
