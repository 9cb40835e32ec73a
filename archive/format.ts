/**
 * Pure parts of the raw archive: the NDJSON line of one Kafka message, the
 * object key layout and the per-partition flush policy.
 *
 * Line format (one JSON object per message, byte-exact replay):
 * `{"topic","partition","offset","timestamp","key","key_encoding","value","value_encoding","headers"}`
 * where `key`/`value` are the raw bytes as a string when they are valid
 * UTF-8 (`*_encoding: "utf8"`), else base64 (`"base64"`), or null when
 * absent; `headers` is `[[name, value, encoding], …]` in the same way.
 *
 * @module
 */
import { decodeUtf8, type RawMessage } from "@vigil/bridge/classify";
import { utf8Length } from "@vigil/shared/schemas/hygiene";

/** The parts of a Kafka message the archive stores: the bridge's, and the timestamp. */
export interface ArchiveMessage extends RawMessage {
  /** Kafka timestamp, ms since epoch as a string (kafkajs). */
  timestamp: string;
}

/** Encoding of a byte field in a line. */
export type Encoding = "utf8" | "base64";

function encodeBytes(bytes: Uint8Array | string | null | undefined): [string | null, Encoding] {
  if (bytes === null || bytes === undefined) return [null, "utf8"];
  if (typeof bytes === "string") return [bytes, "utf8"];
  const text = decodeUtf8(bytes);
  return text === undefined ? [bytes.toBase64(), "base64"] : [text, "utf8"];
}

/** One NDJSON line (without the newline) for a message. */
export function archiveLine(m: ArchiveMessage): string {
  const [key, keyEncoding] = encodeBytes(m.key);
  const [value, valueEncoding] = encodeBytes(m.value);
  const headers: [string, string | null, Encoding][] = [];
  for (const [name, v] of Object.entries(m.headers ?? {})) {
    for (const one of Array.isArray(v) ? v : [v]) {
      headers.push([name, ...encodeBytes(one as Uint8Array | string | null | undefined)]);
    }
  }
  return JSON.stringify({
    topic: m.topic,
    partition: m.partition,
    offset: m.offset,
    timestamp: m.timestamp,
    key,
    key_encoding: keyEncoding,
    value,
    value_encoding: valueEncoding,
    headers,
  });
}

/**
 * Object key of a batch: `<prefix>/<topic>/dt=YYYY-MM-DD/hour=HH/<partition>-<firstOffset>.ndjson.gz`,
 * dated by the first message's Kafka timestamp (UTC), so a retry of the
 * same batch writes the same key. A partition log that started again (the
 * topic created again, another cluster) is told apart by `log`, the Kafka
 * timestamp (ms) of the first message the archive read from it:
 * `<partition>-<firstOffset>.log<ms>.ndjson.gz`, so its objects never
 * replace the old log's of the same offsets.
 */
export function objectKey(
  prefix: string,
  first: { topic: string; partition: number; offset: string; timestamp: string; log?: number },
): string {
  const log = first.log ? `.log${first.log}` : "";
  return archiveFolder(prefix, first.topic, Number(first.timestamp)) +
    `${first.partition}-${first.offset}${log}${OBJECT_SUFFIX}`;
}

/**
 * First offset and log name (0: the first log) of an object key of
 * `partition`, as {@link objectKey} writes it; null for any other key. Pure.
 */
export function parseObjectKey(
  key: string,
  partition: number,
): { first: bigint; log: number } | null {
  const m = new RegExp(`(?:^|/)${partition}-(\\d+)(?:\\.log(\\d+))?\\.ndjson\\.gz$`).exec(key);
  return m ? { first: BigInt(m[1]!), log: m[2] ? Number(m[2]) : 0 } : null;
}

/**
 * Key of a partition's progress record, `<prefix>/<topic>/progress/<partition>.json`
 * (archive/progress.ts writes it, the web reads it). Pure.
 */
export function progressKey(prefix: string, topic: string, partition: number): string {
  return `${topicFolder(prefix, topic)}progress/${partition}.json`;
}

/** Key of a gap record, `<prefix>/<topic>/gaps/<partition>-<from>-<to>.json`. Pure. */
export function gapKey(
  prefix: string,
  topic: string,
  partition: number,
  gap: { from: string; to: string },
): string {
  return `${topicFolder(prefix, topic)}gaps/${partition}-${gap.from}-${gap.to}.json`;
}

/** `<prefix>/<topic>/`, the prefix without leading or trailing slashes (none when empty). */
function topicFolder(prefix: string, topic: string): string {
  const p = prefix.replace(/^\/+|\/+$/g, "");
  return `${p ? p + "/" : ""}${topic}/`;
}

/**
 * A progress record: the offset after the last object stored, the log's name
 * (0: the first) and the Kafka cluster it was read from (null: not recorded).
 */
export interface ProgressRecord {
  next: bigint | null;
  log: number;
  cluster: string | null;
}

/** Read a progress record (none, or anything unreadable, reads as no progress). Pure. */
export function parseProgress(body: Uint8Array | null): ProgressRecord {
  if (body === null) return { next: null, log: 0, cluster: null };
  try {
    const { next, log, cluster } = JSON.parse(new TextDecoder().decode(body));
    return {
      next: typeof next === "string" && /^\d+$/.test(next) ? BigInt(next) : null,
      log: Number.isSafeInteger(log) && log > 0 ? log : 0,
      cluster: typeof cluster === "string" && cluster !== "" ? cluster : null,
    };
  } catch {
    return parseProgress(null);
  }
}

/** File name ending of every archive object. */
export const OBJECT_SUFFIX = ".ndjson.gz";

/** Last ms whose date reads `YYYY-MM-DD` (9999-12-31T23:59:59.999Z). */
const LAST_DATED_MS = 253_402_300_799_999;

/**
 * Folder (with trailing slash) of the objects whose batch began at `timeMs`
 * (invalid or negative times count as 0, and so do times after year 9999: a
 * Kafka timestamp is any int64 the producer set, and a Date holds neither
 * those past ±8.64e15 nor a year of five digits as `YYYY-MM-DD`):
 * `<prefix>/<topic>/dt=…/hour=…/`. Pure.
 */
export function archiveFolder(prefix: string, topic: string, timeMs: number): string {
  const d = new Date(
    Number.isFinite(timeMs) && timeMs >= 0 && timeMs <= LAST_DATED_MS ? timeMs : 0,
  );
  const iso = d.toISOString();
  return `${topicFolder(prefix, topic)}dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/`;
}

/** Flush thresholds of a partition buffer. */
export interface FlushPolicy {
  maxMessages: number;
  maxBytes: number;
  maxAgeMs: number;
}

/**
 * A partition's buffer: the span and size of the lines not yet stored (the
 * lines themselves go straight into the object's gzip stream, see
 * `createGzipWriter` in store.ts, so a buffer holds compressed bytes only).
 */
export interface PartitionBuffer {
  topic: string;
  partition: number;
  firstOffset: string;
  firstTimestamp: string;
  lastOffset: string;
  /** Lines (messages) in the buffer. */
  count: number;
  /** UTF-8 bytes of the lines, newlines included (uncompressed size, for the flush policy). */
  bytes: number;
  /** When the first line was buffered (ms, wall clock). */
  startedAt: number;
}

/** A new buffer starting with `m` (its encoded `line`). */
export function startBuffer(m: ArchiveMessage, line: string, now: number): PartitionBuffer {
  return {
    topic: m.topic,
    partition: m.partition,
    firstOffset: m.offset,
    firstTimestamp: m.timestamp,
    lastOffset: m.offset,
    count: 1,
    bytes: utf8Length(line) + 1,
    startedAt: now,
  };
}

/** Count `m` (its encoded `line`) in `buffer` (offsets must increase). */
export function appendToBuffer(buffer: PartitionBuffer, m: ArchiveMessage, line: string): void {
  buffer.count++;
  buffer.bytes += utf8Length(line) + 1;
  buffer.lastOffset = m.offset;
}

/**
 * Is the buffer full by size (count or bytes)? Size-based cuts depend only
 * on the messages, so a batch re-read from the same first offset ends at
 * the same place.
 */
export function isFull(buffer: PartitionBuffer, policy: FlushPolicy): boolean {
  return buffer.count >= policy.maxMessages || buffer.bytes >= policy.maxBytes;
}

/** Is the buffer old enough to flush by time? */
export function isDue(buffer: PartitionBuffer, policy: FlushPolicy, now: number): boolean {
  return buffer.count > 0 && now - buffer.startedAt >= policy.maxAgeMs;
}
