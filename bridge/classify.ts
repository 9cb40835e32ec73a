/**
 * Pure classification of one Kafka message: a valid event of its topic's
 * type in canonical form (see `shared/schemas/canonical.ts`), or a dead
 * letter with a reason.
 *
 * No I/O and no clock: the bridge turns the result into stream fields.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import {
  canonicalize,
  type CanonicalOptions,
  isCanonicalText,
} from "@vigil/shared/schemas/canonical";
import { type EventType, eventTypeOf, isEventType } from "@vigil/shared/schemas/event";
import { findDuplicateKey } from "@vigil/shared/schemas/duplicate_keys";
import { escapeUnshown, type ExtraLimits } from "@vigil/shared/schemas/hygiene";
import { DEFAULT_DEAD_LETTER_RAW_BYTES, rawExcerpt } from "@vigil/shared/schemas/stream";
import { isCanonicalTraceparent } from "@vigil/shared/telemetry";

/** The parts of a Kafka message classification needs. */
export interface RawMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers?: Record<string, unknown> | undefined;
}

/** Why a message was dead-lettered (a bounded metric label). */
export type ReasonKind =
  | "unknown_topic"
  | "empty"
  | "too_large"
  | "not_utf8"
  | "invalid_json"
  | "invalid_schema";

/** Result of {@link classifyMessage}. */
export type Classified =
  | {
    kind: "event";
    /** The stream it goes to: the topic's type, or `metrics` for the simulator's readings on `logs`. */
    type: EventType;
    /**
     * The event in canonical JSON form: the message text itself when it
     * already is exactly that text, else the canonical serialisation.
     */
    data: string;
    /** Message key as UTF-8, its first 4 KiB ("" when absent). */
    key: string;
    /** W3C traceparent header, "" when absent or malformed. */
    traceparent: string;
    /** What partitioning needs (shared/partitions.ts). */
    route: RouteFields;
  }
  // The value as its first `deadRawBytes` bytes (UTF-8 text, or base64 when not valid UTF-8),
  // with the whole value's byte size and SHA-256 (hex).
  | ReturnType<typeof rawExcerpt> & {
    kind: "dead";
    reasonKind: ReasonKind;
    /**
     * One-line reason, e.g. `invalid_schema: amount: Too small: …`: line
     * breaks, other control characters, bidirectional controls and lone
     * surrogates as JSON escapes ({@link escapeUnshown}).
     */
    reason: string;
    /** The message key (bounded like `raw`), "" when absent. */
    key: string;
    /** Encoding of `key`; "" when the message had no key. */
    keyEncoding: "utf8" | "base64" | "";
  };

/**
 * The fields an event is partitioned by: its entity (service for logs and
 * metrics, user for transactions), and for the projections its timestamp and
 * the projected field (a log's `user_id`, a transaction's `status`).
 */
export interface RouteFields {
  entity: string;
  timestamp: string;
  /** The log's user (logs only; absent when the log has none). */
  user?: string;
  /** The transaction's status (transactions only). */
  status?: string;
}

/** The string value of `name` in canonical text (strings hold no quote or backslash there). */
function canonicalString(text: string, name: string): string | undefined {
  const head = `"${name}":"`;
  const at = text.indexOf(head);
  if (at < 0) return undefined;
  const from = at + head.length;
  return text.slice(from, text.indexOf('"', from));
}

/** Routing fields of canonical text already checked by `isCanonicalText`. */
function routeOfText(type: EventType, text: string): RouteFields {
  const timestamp = canonicalString(text, "timestamp")!;
  if (type === "transactions") {
    return {
      entity: canonicalString(text, "user_id")!,
      timestamp,
      status: canonicalString(text, "status")!,
    };
  }
  const user = type === "logs" ? canonicalString(text, "user_id") : undefined;
  const entity = canonicalString(text, "service")!;
  return user === undefined ? { entity, timestamp } : { entity, timestamp, user };
}

/** Routing fields of a validated event. */
function routeOfEvent(type: EventType, event: Record<string, unknown>): RouteFields {
  const timestamp = String(event.timestamp);
  if (type === "transactions") {
    return { entity: String(event.user_id), timestamp, status: String(event.status) };
  }
  const entity = String(event.service);
  return type === "logs" && typeof event.user_id === "string"
    ? { entity, timestamp, user: event.user_id }
    : { entity, timestamp };
}

/** Options for {@link classifyMessage}. */
export interface ClassifyOptions {
  /** Values above this many bytes are dead-lettered. @default {1048576} */
  maxBytes?: number;
  /** Bytes of a dead letter's value (and key) kept in the entry. @default {4096} */
  deadRawBytes?: number;
  /** Bounds on extra fields. @default {DEFAULT_EXTRA_LIMITS} */
  limits?: ExtraLimits;
  /** Use the canonical fast path (false: zod only, for tests). @default {true} */
  fast?: boolean;
}

const DEFAULT_OPTIONS: ClassifyOptions = {};
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const TRACEPARENT = /^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);

/** Most bytes of a valid event's key kept in its entry (Kafka allows a key of a megabyte). */
export const MAX_KEY_BYTES = 4096;

/** A valid event's key as its entry keeps it: UTF-8, its first {@link MAX_KEY_BYTES} bytes and "…". */
function entryKey(key: Uint8Array | null): string {
  if (!key) return "";
  return key.length <= MAX_KEY_BYTES
    ? lossyUtf8(key)
    : `${lossyUtf8(key.subarray(0, MAX_KEY_BYTES))}…`;
}

/** Lossy UTF-8 decode (invalid sequences become U+FFFD) through Buffer, several times faster than TextDecoder on short values. */
function lossyUtf8(bytes: Uint8Array): string {
  const b = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return b.toString("utf8");
}

/** Decode bytes as UTF-8, or undefined when they are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  // Fast path: a lossy decode without any U+FFFD had nothing to replace. With
  // one, the strict decoder decides (the text may hold a real U+FFFD).
  const text = lossyUtf8(bytes);
  if (!text.includes("\uFFFD")) return text;
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Value of a kafkajs header (Buffer, string or array of them) as a string. */
export function headerString(headers: Record<string, unknown> | undefined, name: string): string {
  let v = headers?.[name];
  if (Array.isArray(v)) v = v[0];
  if (typeof v === "string") return v;
  if (v instanceof Uint8Array) return lossyUtf8(v);
  return "";
}

/** The canonicalize options of classify options, clean or not (made once per options object). */
const optionsCache = new WeakMap<ClassifyOptions, [CanonicalOptions, CanonicalOptions]>();

function canonicalOptions(options: ClassifyOptions, clean: boolean): CanonicalOptions {
  let pair = optionsCache.get(options);
  if (!pair) {
    const base = {
      ...(options.limits ? { limits: options.limits } : {}),
      ...(options.fast === false ? { fast: false } : {}),
    };
    pair = [{ ...base, clean: true }, { ...base, clean: false }];
    optionsCache.set(options, pair);
  }
  return clean ? pair[0] : pair[1];
}

function dead(
  reasonKind: ReasonKind,
  detail: string,
  message: RawMessage,
  maxRaw: number,
): Classified {
  const value = message.value ?? new Uint8Array(0);
  const excerpt = rawExcerpt(value, maxRaw);
  const key = message.key ? rawExcerpt(message.key, maxRaw) : undefined;
  return {
    kind: "dead",
    reasonKind,
    reason: escapeUnshown(`${reasonKind}: ${detail}`),
    ...excerpt,
    key: key?.raw ?? "",
    keyEncoding: key?.encoding ?? "",
  };
}

/**
 * Classify a Kafka message: the topic must be an event type, the value
 * valid UTF-8 JSON of at most `maxBytes` matching the schema of its type,
 * without duplicate keys. Never throws.
 */
export function classifyMessage(
  message: RawMessage,
  options: ClassifyOptions = DEFAULT_OPTIONS,
): Classified {
  const maxBytes = options.maxBytes ?? 1_048_576;
  const maxRaw = options.deadRawBytes ?? DEFAULT_DEAD_LETTER_RAW_BYTES;
  const { topic, value } = message;
  if (!isEventType(topic)) {
    return dead("unknown_topic", `topic ${JSON.stringify(topic)}`, message, maxRaw);
  }
  if (value === null || value.length === 0) return dead("empty", "no value", message, maxRaw);
  if (value.length > maxBytes) {
    return dead("too_large", `${value.length} bytes > ${maxBytes}`, message, maxRaw);
  }
  const text = decodeUtf8(value);
  if (text === undefined) {
    return dead("not_utf8", "value is not valid UTF-8", message, maxRaw);
  }
  if (options.fast !== false && isCanonicalText(topic, text)) {
    // The producer's form: exactly the canonical text already (so no key is duplicated).
    return {
      kind: "event",
      type: topic,
      data: text,
      key: entryKey(message.key),
      traceparent: traceparentOf(message),
      route: routeOfText(topic, text),
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return dead("invalid_json", (error as Error).message.slice(0, 200), message, maxRaw);
  }
  const type = eventTypeOf(topic, parsed);
  // JSON carries a control character or a lone surrogate only as an escape:
  // without a backslash, no string needs the hygiene checks.
  const result = canonicalize(
    type,
    parsed,
    canonicalOptions(options, text.indexOf("\\") === -1),
  );
  if (!result.ok) {
    const as = type === topic ? "" : "(as a metric) ";
    return dead("invalid_schema", as + result.reason.slice(0, 500), message, maxRaw);
  }
  // Text equal to the canonical form (the producer's) has no duplicate key.
  if (result.data !== text) {
    const duplicate = findDuplicateKey(text);
    if (duplicate !== undefined) {
      return dead(
        "invalid_json",
        `duplicate key ${JSON.stringify(duplicate.slice(0, 100))}`,
        message,
        maxRaw,
      );
    }
  }
  return {
    kind: "event",
    type,
    data: result.data,
    key: entryKey(message.key),
    traceparent: traceparentOf(message),
    route: routeOfEvent(type, result.event as unknown as Record<string, unknown>),
  };
}

/**
 * The message's W3C traceparent header, normalised, or "" when absent or
 * malformed, or one the W3C Trace Context says to ignore: version `ff`, an
 * all-zero trace id or parent id (no trace can be continued from those).
 */
function traceparentOf(message: RawMessage): string {
  let traceparent = headerString(message.headers, "traceparent");
  if (!isCanonicalTraceparent(traceparent) && !TRACEPARENT.test(traceparent)) {
    traceparent = traceparent.trim().toLowerCase();
    if (!TRACEPARENT.test(traceparent)) return "";
  }
  return traceparent.startsWith("ff") || traceparent.startsWith(ZERO_TRACE, 3) ||
      traceparent.startsWith(ZERO_SPAN, 36)
    ? ""
    : traceparent;
}
