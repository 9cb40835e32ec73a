/**
 * The shape of entries in the per-type Redis event streams
 * (`vigil:events:{<type>:<p>}`) and the dead-letter stream (`vigil:{dlq}`).
 *
 * An event stream entry holds the validated, normalised event as JSON plus
 * its Kafka coordinates and ingest time, so an anomaly links back to its
 * evidence:
 *
 * | field | meaning |
 * |---|---|
 * | `data` | the event, JSON (normalised by the shared schemas) |
 * | `topic`, `partition`, `offset` | Kafka coordinates |
 * | `key` | Kafka message key (service or user), may be empty |
 * | `ingest_ts` | ms since epoch when the bridge appended it |
 * | `traceparent` | W3C trace context, when the producer sent one |
 *
 * @module
 */
import { createHash } from "node:crypto";
import { z } from "zod";

/** Fields of an event stream entry, as read back (all strings). */
export const streamEntrySchema = z.object({
  data: z.string().min(2),
  topic: z.string().min(1),
  partition: z.coerce.number().int().min(0),
  offset: z.string().regex(/^\d+$/),
  key: z.string().default(""),
  ingest_ts: z.coerce.number().int().min(0),
  traceparent: z.string().optional(),
});

/** Bytes of a dead letter's payload kept in its `raw` field by default. */
export const DEFAULT_DEAD_LETTER_RAW_BYTES = 4096;

const hex64 = z.string().regex(/^[\da-f]{64}$/);
const digits = z.string().regex(/^\d+$/);

/**
 * Fields of a dead-letter entry (`vigil:{dlq}`), the one definition every
 * service writes through (bridge: `bridge_append-2.lua`; detector and
 * notifier: {@link deadLetterFields}).
 *
 * | field | meaning |
 * |---|---|
 * | `source` | who dead-lettered it: `bridge`, `detector`, `notifier` |
 * | `reason` | `<kind>: <detail>`, e.g. `invalid_schema: user_id: control character U+0000 at position 1 is not allowed` |
 * | `raw`, `encoding` | the first bytes of the payload (at most `BRIDGE_DLQ_RAW_BYTES`, 4096 by default, cut on a character boundary): UTF-8 text, or base64 when not valid UTF-8 |
 * | `size`, `sha256` | byte size and SHA-256 (hex) of the whole payload; `raw` is a prefix when `size` is larger than it (the raw archive keeps the whole message) |
 * | `key`, `key_encoding` | the Kafka message key (bridge; absent when the message had none) |
 * | `topic`, `partition`, `offset` | Kafka coordinates (bridge; detector when the entry had them) |
 * | `stream`, `stream_id` | the Redis stream entry (detector, notifier) |
 * | `from`, `to`, `count` | a gap (reason kind `gap`): offsets `from..to` of the partition were gone from Kafka before the bridge read them |
 * | `ts` | ms since the epoch when it was dead-lettered |
 */
export const deadLetterSchema = z.object({
  /** Where it came from: `bridge`, `detector`, … */
  source: z.string(),
  reason: z.string(),
  /** Payload prefix (UTF-8 when valid, else base64 with `encoding=base64`). */
  raw: z.string(),
  encoding: z.enum(["utf8", "base64"]).default("utf8"),
  /** Byte size of the whole payload. */
  size: z.coerce.number().int().min(0).optional(),
  /** SHA-256 of the whole payload, lower-case hex. */
  sha256: hex64.optional(),
  key: z.string().optional(),
  key_encoding: z.enum(["utf8", "base64"]).optional(),
  topic: z.string().optional(),
  partition: z.coerce.number().int().optional(),
  offset: z.string().optional(),
  stream: z.string().optional(),
  stream_id: z.string().optional(),
  /** Gap: first and last offset missing, and how many. */
  from: digits.optional(),
  to: digits.optional(),
  count: z.coerce.number().int().min(1).optional(),
  ts: z.coerce.number().int(),
});

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/** A payload as dead-letter fields: a bounded prefix, its encoding, the whole size and SHA-256. */
export interface RawExcerpt {
  raw: string;
  encoding: "utf8" | "base64";
  size: number;
  sha256: string;
}

/**
 * The first `maxBytes` bytes of `payload` (cut back to a UTF-8 character
 * boundary) as text, or as base64 when they are not valid UTF-8, with the
 * whole payload's byte size and SHA-256.
 */
export function rawExcerpt(
  payload: Uint8Array | string,
  maxBytes = DEFAULT_DEAD_LETTER_RAW_BYTES,
): RawExcerpt {
  const bytes = typeof payload === "string" ? encoder.encode(payload) : payload;
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  let cut = Math.min(bytes.length, maxBytes);
  if (cut < bytes.length && (bytes[cut]! & 0xc0) === 0x80) {
    // The cut falls inside a character: cut before its lead byte instead.
    let b = cut - 1;
    while (b > 0 && cut - b < 4 && (bytes[b]! & 0xc0) === 0x80) b--;
    if (bytes[b]! >= 0xc0) cut = b;
  }
  const prefix = bytes.subarray(0, cut);
  try {
    return { raw: strictUtf8.decode(prefix), encoding: "utf8", size: bytes.length, sha256 };
  } catch {
    return { raw: prefix.toBase64(), encoding: "base64", size: bytes.length, sha256 };
  }
}

/**
 * The XADD field list of a dead-letter entry from a stream consumer (detector,
 * notifier): where it was read and why it is dead; Kafka coordinates when the
 * entry had them. `raw` is kept as a bounded prefix with its size and SHA-256.
 */
export function deadLetterFields(d: {
  source: string;
  reason: string;
  raw: string;
  stream: string;
  streamId: string;
  ts: number;
  topic?: string | undefined;
  partition?: string | undefined;
  offset?: string | undefined;
  /** Bytes of `raw` kept. @default {4096} */
  maxRawBytes?: number;
}): string[] {
  const { source, reason, stream, ts, topic, partition, offset } = d;
  return Object.entries({
    source,
    reason,
    ...rawExcerpt(d.raw, d.maxRawBytes), // raw, encoding, size, sha256
    stream,
    stream_id: d.streamId,
    ts,
    // Kafka coordinates: only when the entry had them.
    ...(topic ? { topic } : {}),
    ...(partition ? { partition } : {}),
    ...(offset ? { offset } : {}),
  }).flatMap(([k, v]) => [k, String(v)]);
}

/** Turn a flat `[k1, v1, k2, v2, …]` Redis reply into an object. */
export function fieldsToObject(fields: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i]!] = fields[i + 1]!;
  return out;
}
