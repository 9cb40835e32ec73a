/**
 * The shape of entries in the per-type Redis event streams
 * (`vigil:events:<type>`) and the dead-letter stream (`vigil:dlq`).
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
export type StreamEntry = z.infer<typeof streamEntrySchema>;

/** Fields of a dead-letter entry. */
export const deadLetterSchema = z.object({
  /** Where it came from: `bridge`, `detector`, … */
  source: z.string(),
  reason: z.string(),
  /** Raw payload (UTF-8 when valid, else base64 with `encoding=base64`). */
  raw: z.string(),
  encoding: z.enum(["utf8", "base64"]).default("utf8"),
  topic: z.string().optional(),
  partition: z.coerce.number().int().optional(),
  offset: z.string().optional(),
  stream: z.string().optional(),
  stream_id: z.string().optional(),
  ts: z.coerce.number().int(),
});
export type DeadLetter = z.infer<typeof deadLetterSchema>;

/**
 * The XADD field list of a dead-letter entry from a stream consumer (detector,
 * notifier): where it was read and why it is dead; Kafka coordinates when the
 * entry had them.
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
}): string[] {
  const fields = [
    "source",
    d.source,
    "reason",
    d.reason,
    "raw",
    d.raw,
    "encoding",
    "utf8",
    "stream",
    d.stream,
    "stream_id",
    d.streamId,
    "ts",
    String(d.ts),
  ];
  if (d.topic) fields.push("topic", d.topic);
  if (d.partition) fields.push("partition", d.partition);
  if (d.offset) fields.push("offset", d.offset);
  return fields;
}

/** Turn a flat `[k1, v1, k2, v2, …]` Redis reply into an object. */
export function fieldsToObject(fields: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i]!] = fields[i + 1]!;
  return out;
}
