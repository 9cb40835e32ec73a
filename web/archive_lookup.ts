/**
 * Find the raw-archive object that holds an event, given its Kafka
 * coordinates. The archive (archive/archive.ts, key layout in
 * archive/format.ts `objectKey`) writes one object per partition
 * batch:
 *
 *     <prefix>/<topic>/dt=YYYY-MM-DD/hour=HH/<partition>-<firstOffset>.ndjson.gz
 *
 * (`<partition>-<firstOffset>.log<ms>.ndjson.gz` for a log that started
 * again), dated by the batch's FIRST message's Kafka
 * timestamp (UTC). So the event
 * at offset `o` is in the object of its partition with the greatest
 * `firstOffset <= o`, in the folder of its own hour or, when its batch began
 * in the previous hour, of that one. The web does not know the Kafka
 * timestamp: it lies about between the event's own time and the bridge's
 * ingest time, hours apart when the bridge catches up after an outage, so
 * the folders around both and those between are listed (bounded, see
 * {@link lookupFolders}). Listing them (by key prefix
 * `<folder><partition>-`) finds it; nothing is downloaded.
 *
 * @module
 */
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import {
  archiveFolder,
  OBJECT_SUFFIX,
  parseObjectKey,
  parseProgress,
  progressKey,
} from "@vigil/archive/format";
import { createDirStore, createS3Store } from "@vigil/archive/store";
import {
  createLastOffsetCache,
  type LastOffsetCache,
  readLastOffset,
  s3LastOffset,
} from "./archive_span.ts";

/** Lists object keys by key prefix (S3 or the archive's local folder). */
export interface ArchiveLister {
  /** Keys that start with `prefix` (which ends inside one folder); throws past 10,000 of them. */
  list(prefix: string): Promise<string[]>;
  /** A small object (a progress record), or null when there is none. */
  read(key: string): Promise<Uint8Array | null>;
  /** An object's last offset (read once when settled; archive_span.ts). */
  lastOffset: LastOffsetCache;
}

/** Most keys read from one folder listing (a folder holds one hour of batches). */
const MAX_KEYS = 10_000;

/**
 * More than `max` keys under `prefix`: the ones not read may hold the event (keys sort as
 * text, `4-9999` after `4-10000`), so no object can be named (lookup `unknown`).
 */
function tooManyKeys(prefix: string, max: number): Error {
  return new Error(`Cannot list ${prefix}*: more than ${max} objects`);
}

/** An S3 bucket as an {@link ArchiveLister} (ListObjectsV2, paginated, bounded). */
export function createS3Lister(
  options: { client: S3Client; bucket: string; maxKeys?: number },
): ArchiveLister {
  const { client, bucket, maxKeys = MAX_KEYS } = options;
  const store = createS3Store({ client, bucket });
  const read = (key: string) => store.get(key);
  return {
    read,
    lastOffset: createLastOffsetCache(s3LastOffset(client, bucket, read)),
    async list(prefix) {
      const keys: string[] = [];
      // Paged by StartAfter (the last key seen) rather than continuation tokens: plain,
      // stateless, and understood by every S3-compatible server.
      let after: string | undefined;
      for (;;) {
        const page = await client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: prefix,
            ...(after ? { StartAfter: after } : {}),
          }),
        );
        const batch = (page.Contents ?? []).flatMap((o) => (o.Key ? [o.Key] : []));
        keys.push(...batch);
        if (!page.IsTruncated || batch.length === 0) break;
        if (keys.length >= maxKeys) throw tooManyKeys(prefix, maxKeys);
        after = batch[batch.length - 1];
      }
      return keys;
    },
  };
}

/** The archive's local folder (ARCHIVE_DIR) as an {@link ArchiveLister}. */
export function createDirLister(dir: string, maxKeys = MAX_KEYS): ArchiveLister {
  const root = dir.replace(/\/+$/, "");
  const store = createDirStore(root);
  const read = async (key: string) => {
    try {
      return await store.get(key);
    } catch (error) {
      if (error instanceof TypeError) return null; // a key the store refuses (`..`)
      throw error;
    }
  };
  return {
    read,
    lastOffset: createLastOffsetCache(readLastOffset(read)),
    async list(prefix) {
      const slash = prefix.lastIndexOf("/");
      const folder = prefix.slice(0, slash + 1);
      const start = prefix.slice(slash + 1);
      if (folder.split("/").some((p) => p === "..")) return [];
      const keys: string[] = [];
      try {
        for await (const e of Deno.readDir(`${root}/${folder}`)) {
          // Temp files of an unfinished write end in `.tmp`; only finished objects count.
          if (e.isFile && e.name.startsWith(start) && e.name.endsWith(OBJECT_SUFFIX)) {
            if (keys.length >= maxKeys) throw tooManyKeys(prefix, maxKeys);
            keys.push(folder + e.name);
          }
        }
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return [];
        throw error;
      }
      return keys;
    },
  };
}

/** An object key of one partition with its first offset and log name. */
interface ParsedKey {
  key: string;
  first: bigint;
  log: number;
}

/** The keys of `partition` among `keys`, parsed (others dropped). */
function parseKeys(keys: readonly string[], partition: number): ParsedKey[] {
  return keys.flatMap((key) => {
    const name = parseObjectKey(key, partition);
    return name ? [{ key, ...name }] : [];
  });
}

/**
 * Of `parsed` (objects of one partition), the one whose batch holds `offset`:
 * the greatest first offset not above it, in the partition's log of the
 * event. A log that started again (topic created again, another cluster) is
 * named by the Kafka time of its first message (`<partition>-<first>.log<ms>`,
 * archive/format.ts `objectKey`); the event's log is the newest one named
 * at or before `timeMs` (its Kafka time, about; the first log when absent
 * from the keys). Pure.
 */
function choose(parsed: readonly ParsedKey[], offset: string, timeMs: number): ParsedKey | null {
  if (!/^\d+$/.test(offset)) return null;
  const target = BigInt(offset);
  let log = 0;
  for (const p of parsed) if (p.log <= timeMs && p.log > log) log = p.log;
  let best: ParsedKey | null = null;
  for (const p of parsed) {
    if (p.log !== log) continue;
    if (p.first <= target && (best === null || p.first > best.first)) best = p;
  }
  return best;
}

/**
 * Folders (at most {@link MAX_FOLDERS}) where a batch whose first message's Kafka
 * time is about one of `times` can be: every hour from the one before the
 * earliest time to the one after the latest; when those are more than
 * {@link MAX_FOLDERS} (times more than a day apart), the hour of each time and
 * the hours on either side. Invalid times are ignored. Pure.
 */
export function lookupFolders(prefix: string, topic: string, times: readonly number[]): string[] {
  const valid = times.filter((t) => Number.isFinite(t) && t >= 0);
  if (valid.length === 0) valid.push(0);
  const first = Math.floor((Math.min(...valid) - HOUR) / HOUR) * HOUR;
  const last = Math.max(...valid) + HOUR;
  const span: number[] = [];
  for (let t = first; t <= last && span.length <= MAX_FOLDERS; t += HOUR) span.push(t);
  const hours = span.length <= MAX_FOLDERS ? span : valid.flatMap((t) => [t - HOUR, t, t + HOUR]);
  return [...new Set(hours.map((t) => archiveFolder(prefix, topic, t)))];
}

const HOUR = 3_600_000;

/**
 * Most folders listed for one event: 26 hours, so a bridge that caught up to
 * a day behind the producer still finds the events of the outage.
 */
export const MAX_FOLDERS = 26;

/**
 * What the lookup of an event found: `found`, `object` holds it;
 * `not_archived`, no object holds it yet; `elsewhere`, the archive stored it
 * (its progress record is past it) in an object filed under an hour not
 * listed; `unknown`, the listing cannot tell (no progress record).
 */
export type ArchiveFind =
  | { lookup: "found"; object: string }
  | { lookup: "not_archived" | "elsewhere" | "unknown"; object: null };

/**
 * Find the object holding `topic`/`partition`/`offset`, whose Kafka time is
 * about `timeMs` (the bridge's ingest time, else the anomaly's event time) or,
 * when the bridge lagged, as early as `eventTimeMs` (the event's own time):
 * see {@link lookupFolders}.
 * The newest object of a partition may end before the offset (the rest is
 * still in the archive's open buffer), and a log that started again may not
 * have stored any object yet: the partition's progress record, read with
 * `read` (the offset after the last object stored, and the log's name), tells.
 * The object picked may also end before the offset when the next one is filed
 * under an hour not listed: `lastOffset` (archive_span.ts) checks it.
 *
 * @param list a lister, memoised per call site so events sharing a folder list it once
 * @param read reads the progress record (memoised likewise); without it the newest object is taken
 *   when it holds the offset, and one that ends before it answers `unknown`
 * @param lastOffset an object's last offset; without it the object picked is trusted
 * @throws when an object listed cannot be read (lookup `unknown`)
 */
export async function findArchiveObject(
  list: (prefix: string) => Promise<string[]>,
  where: {
    prefix: string;
    topic: string;
    partition: number;
    offset: string;
    timeMs: number;
    eventTimeMs?: number | undefined;
  },
  read?: (key: string) => Promise<Uint8Array | null>,
  lastOffset?: LastOffsetCache,
): Promise<ArchiveFind> {
  // Around each time: the previous hour (a batch that began before the hour turned) and the
  // next one (a producer clock ahead of the bridge's).
  const folders = lookupFolders(where.prefix, where.topic, [
    where.timeMs,
    ...(where.eventTimeMs === undefined ? [] : [where.eventTimeMs]),
  ]);
  const keys = (await Promise.all(folders.map((f) => list(`${f}${where.partition}-`)))).flat();
  const parsed = parseKeys(keys, where.partition);
  const picked = choose(parsed, where.offset, where.timeMs);
  // Unreadable (no such record, credentials that may only list): the listing and the object tell.
  const body = read
    ? await read(progressKey(where.prefix, where.topic, where.partition)).catch(() => null)
    : null;
  const progress = body === null ? null : parseProgress(body);
  const offset = /^\d+$/.test(where.offset) ? BigInt(where.offset) : null;
  // Stored past the offset, in the log of the event (the newest log named at or before its time).
  const stored = (log: number | null) =>
    offset !== null && progress !== null && progress.next !== null && offset < progress.next &&
    (log === null ? progress.log <= where.timeMs : progress.log === log);
  if (picked === null) return stored(null) ? ELSEWHERE : NOT_ARCHIVED;
  if (progress !== null) {
    // The log started again at or before the event, and none of its objects is stored yet.
    if (progress.log > picked.log && progress.log <= where.timeMs) return NOT_ARCHIVED;
    const newest = parsed.every((p) => p.log !== picked.log || p.first <= picked.first);
    if (progress.log === picked.log && newest && !stored(picked.log)) return NOT_ARCHIVED;
  }
  if (lastOffset === undefined || offset === null) return { lookup: "found", object: picked.key };
  // Never replaced once a later object of its log is listed, or stored past its end (committed).
  const later = parsed.some((p) => p.log === picked.log && p.first > picked.first);
  const last = await lastOffset(picked.key, (last) =>
    later ||
    (progress?.log === picked.log && progress.next !== null && progress.next > last + 1n));
  if (last === null) throw new Error(`Cannot read ${picked.key}: it is gone`);
  if (last >= offset) return { lookup: "found", object: picked.key };
  // The object ends before the event; the next one is not in the folders listed.
  if (progress === null) return { lookup: "unknown", object: null };
  if (progress.log === picked.log) return stored(picked.log) ? ELSEWHERE : NOT_ARCHIVED;
  return ELSEWHERE; // that log ended: the archive stored what it read of it
}

const NOT_ARCHIVED: ArchiveFind = { lookup: "not_archived", object: null };
const ELSEWHERE: ArchiveFind = { lookup: "elsewhere", object: null };
