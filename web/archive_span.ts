/**
 * Does an archive object hold an event? Its key names only its first offset
 * (archive/format.ts `objectKey`), and the object after it in its partition
 * may be filed under an hour the web does not list (a batch dated by a Kafka
 * timestamp the producer set far from the event's time): the greatest first
 * offset listed not above the event's may belong to an object that ends
 * before it. So the candidate's last offset is checked: the archive records
 * it as S3 user metadata (`LAST_OFFSET_META`, one HeadObject); an object
 * without it (the local folder, or written before the archive recorded it)
 * is read once. The last offsets of objects never replaced are cached
 * (bounded).
 *
 * @module
 */
import { HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { LAST_OFFSET_META } from "@vigil/archive/store";

/**
 * The last offset of an object (-1 when it is empty), or null when there is no such object.
 */
export type LastOffsetReader = (key: string) => Promise<bigint | null>;

/** The start of an archive line up to its offset (archive/format.ts `archiveLine`; topic names are plain). */
const LINE_HEAD = /^\{"topic":"[^"\\]*","partition":\d+,"offset":"(\d+)"/;

/** The offset of an archive line: from its head, else (another field order) the whole line. */
function offsetOf(line: string): bigint {
  const head = LINE_HEAD.exec(line);
  if (head) return BigInt(head[1]!);
  const offset = (JSON.parse(line) as { offset?: unknown } | null)?.offset;
  if (typeof offset !== "string" || !/^\d+$/.test(offset)) {
    throw new Error("not an archive line (no offset)");
  }
  return BigInt(offset);
}

/**
 * The last offset of gzipped NDJSON archive lines (-1 when there are none).
 * The whole object is read once, whichever of its events is asked about: the
 * events of an anomaly often share one object, and a read per event offset
 * cost one decompression each.
 *
 * @throws when the bytes are not gzipped archive lines
 */
export async function scanLastOffset(gzipped: ReadableStream<BufferSource>): Promise<bigint> {
  const reader = gzipped
    .pipeThrough(new DecompressionStream("gzip"))
    .pipeThrough(new TextDecoderStream())
    .getReader();
  let last = -1n;
  let rest = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      const lines = (rest + (value ?? "")).split("\n");
      rest = done ? "" : lines.pop()!;
      for (const line of lines) if (line !== "") last = offsetOf(line);
      if (done) return last;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/**
 * The {@link LastOffsetReader} over `get` (the store's own read of an object, null when there is
 * none): the object is read whole.
 */
export function readLastOffset(get: (key: string) => Promise<Uint8Array | null>): LastOffsetReader {
  return async (key) => {
    const body = await get(key);
    return body === null ? null : await scanLastOffset(new Blob([body.slice()]).stream());
  };
}

/**
 * The {@link LastOffsetReader} of an S3 bucket: the object's metadata (one HeadObject), else its
 * body read with `get`.
 */
export function s3LastOffset(
  client: S3Client,
  bucket: string,
  get: (key: string) => Promise<Uint8Array | null>,
): LastOffsetReader {
  const byBody = readLastOffset(get);
  return async (key) => {
    let head;
    try {
      head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    } catch (error) {
      if (
        (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404
      ) {
        return null;
      }
      throw error;
    }
    const last = head.Metadata?.[LAST_OFFSET_META];
    return last !== undefined && /^\d+$/.test(last) ? BigInt(last) : await byBody(key);
  };
}

/** Most objects whose last offset is cached (about 100 bytes each). */
const MAX_CACHED = 10_000;

/**
 * A {@link LastOffsetReader} with a bounded cache: the last offset of `key`; `settled`: is the
 * object, so read, never replaced? An object is replaced only while it is its partition's newest
 * (a batch stored and not committed is read again and stored under the same key, perhaps cut
 * elsewhere), so only what the caller says is `settled` (a later object exists) is cached.
 */
export type LastOffsetCache = (
  key: string,
  settled: (last: bigint) => boolean,
) => Promise<bigint | null>;

/**
 * A {@link LastOffsetCache} over `read`, holding at most `max` objects (the oldest entries go
 * first). Callers asking about an object being read share that read (the events of one anomaly).
 */
export function createLastOffsetCache(read: LastOffsetReader, max = MAX_CACHED): LastOffsetCache {
  const known = new Map<string, bigint>();
  const reading = new Map<string, Promise<bigint | null>>();
  return async (key, settled) => {
    const had = known.get(key);
    if (had !== undefined) return had;
    let got = reading.get(key);
    if (got === undefined) {
      got = read(key);
      reading.set(key, got);
      got.finally(() => reading.get(key) === got && reading.delete(key)).catch(() => {});
    }
    const last = await got;
    if (last !== null && settled(last)) {
      known.set(key, last);
      if (known.size > max) known.delete(known.keys().next().value!);
    }
    return last;
  };
}
