/**
 * Pure classification of one Kafka message: a valid event of its topic's
 * type (normalised by the shared schemas), or a dead letter with a reason.
 *
 * No I/O and no clock: the bridge turns the result into stream fields.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { fastEvent } from "@vigil/shared/schemas/canonical";
import { type EventType, isEventType, parseEvent } from "@vigil/shared/schemas/event";
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
    type: EventType;
    /**
     * The normalised event as JSON: the message text itself when it already
     * is in the canonical form (same value, whitespace and key order aside),
     * else the schema's output re-serialised.
     */
    data: string;
    /** Message key as UTF-8 ("" when absent). */
    key: string;
    /** W3C traceparent header, "" when absent or malformed. */
    traceparent: string;
  }
  | {
    kind: "dead";
    reasonKind: ReasonKind;
    /** One-line reason, e.g. `invalid_schema: amount: Too small: …`. */
    reason: string;
    /** Raw value: UTF-8 text, or base64 when not valid UTF-8. */
    raw: string;
    encoding: "utf8" | "base64";
  };

/** Options for {@link classifyMessage}. */
export interface ClassifyOptions {
  /** Values above this many bytes are dead-lettered. @default {1048576} */
  maxBytes?: number;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const TRACEPARENT = /^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}$/;

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

/** Base64 of bytes. */
export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** Value of a kafkajs header (Buffer, string or array of them) as a string. */
export function headerString(headers: Record<string, unknown> | undefined, name: string): string {
  let v = headers?.[name];
  if (Array.isArray(v)) v = v[0];
  if (typeof v === "string") return v;
  if (v instanceof Uint8Array) return lossyUtf8(v);
  return "";
}

function dead(reasonKind: ReasonKind, detail: string, bytes: Uint8Array | null): Classified {
  const text = bytes ? decodeUtf8(bytes) : "";
  return {
    kind: "dead",
    reasonKind,
    reason: `${reasonKind}: ${detail}`,
    raw: text ?? toBase64(bytes!),
    encoding: text === undefined ? "base64" : "utf8",
  };
}

/**
 * Classify a Kafka message: the topic must be an event type, the value
 * valid UTF-8 JSON matching that type's schema, and at most `maxBytes`.
 * Never throws.
 */
export function classifyMessage(message: RawMessage, options: ClassifyOptions = {}): Classified {
  const maxBytes = options.maxBytes ?? 1_048_576;
  const { topic, value } = message;
  if (!isEventType(topic)) return dead("unknown_topic", `topic "${topic}"`, value);
  if (value === null || value.length === 0) return dead("empty", "no value", value);
  if (value.length > maxBytes) {
    return dead("too_large", `${value.length} bytes > ${maxBytes}`, value);
  }
  const text = decodeUtf8(value);
  if (text === undefined) return dead("not_utf8", "value is not valid UTF-8", value);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return dead("invalid_json", (error as Error).message.slice(0, 200), value);
  }
  let data: string;
  if (fastEvent(topic, parsed) !== null) {
    data = text; // already what the schema would output
  } else {
    const result = parseEvent(topic, parsed);
    if (!result.ok) return dead("invalid_schema", result.reason.slice(0, 500), value);
    data = JSON.stringify(result.event);
  }
  let traceparent = headerString(message.headers, "traceparent");
  if (!isCanonicalTraceparent(traceparent) && !TRACEPARENT.test(traceparent)) {
    traceparent = traceparent.trim().toLowerCase();
    if (!TRACEPARENT.test(traceparent)) traceparent = "";
  }
  return {
    kind: "event",
    type: topic,
    data,
    key: message.key ? lossyUtf8(message.key) : "",
    traceparent,
  };
}
