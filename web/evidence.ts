/**
 * An anomaly's evidence: the triggering events, read back from the Redis
 * event streams while they are still there (one pipelined `XRANGE id id` per
 * event), with their Kafka coordinates and where the raw archive keeps them.
 *
 * @module
 */
import type { Evidence } from "@vigil/shared/schemas/alert";
import { fieldsToObject, streamEntrySchema } from "@vigil/shared/schemas/stream";
import type { Keys } from "@vigil/shared/keys";
import { withTimeout } from "@vigil/shared/lifecycle";
import { pipelineBySlot } from "@vigil/shared/redis_cluster";
import { archiveFolder, type ArchiveLister, findArchiveObject } from "./archive_lookup.ts";

/** The Redis commands evidence lookup needs. */
export interface EvidenceRedis {
  pipeline(): {
    xrange(key: string, start: string, end: string): unknown;
    exec(): Promise<[Error | null, unknown][] | null>;
  };
  /** ioredis: true on a cluster client (one pipeline per slot). */
  readonly isCluster?: boolean;
}

/** Where the raw archive keeps an event. */
export interface ArchiveLocation {
  /**
   * Folder of the object: `<prefix>/<topic>/dt=YYYY-MM-DD/hour=HH/`; `elsewhere`: the topic's
   * folder, `<prefix>/<topic>/`.
   */
  folder: string;
  /**
   * Objects of this partition in that folder: `<partition>-<firstOffset>.ndjson.gz`;
   * `elsewhere`: the same under every hour folder, `dt=*\/hour=*\/<partition>-*.ndjson.gz`.
   */
  object_pattern: string;
  /** Key of the object that holds the event, when the archive lister found it. */
  object: string | null;
  /**
   * `found`: `object` holds the event; `not_archived`: no object covers it yet (the
   * archive flushes batches every minute or so); `elsewhere`: the archive stored it (its
   * progress record is past the offset), in an object filed under an hour not searched (a
   * Kafka timestamp far from the event's time), the one of the partition with the greatest
   * first offset not above the event's; `unknown`: the archive could not be listed or read.
   */
  lookup: "found" | "not_archived" | "elsewhere" | "unknown";
  /** `s3://bucket/<object or folder>` when a bucket is configured, else null. */
  url: string | null;
}

/** One evidence event, resolved. */
export interface EvidenceItem extends Evidence {
  /** Whether the stream still holds the entry (streams are trimmed). */
  available: boolean;
  /** The event as the bridge stored it, when available and valid JSON. */
  event: unknown;
  key: string | null;
  ingest_ts: number | null;
  traceparent: string | null;
  archive: ArchiveLocation;
  /** Why the entry could not be shown, when it could not. */
  problem: string | null;
}

/**
 * Archive location of an event of `topic`/`partition` whose Kafka time is
 * about `timeMs`, before (or without) a lookup: the folder of that hour. Pure.
 *
 * The archive names objects `<prefix>/<topic>/dt=YYYY-MM-DD/hour=HH/<partition>-<firstOffset>.ndjson.gz`
 * (UTC, dated by the batch's first message), see archive_lookup.ts.
 */
export function archiveLocation(
  options: {
    prefix: string;
    bucket?: string | undefined;
    topic: string;
    partition: number;
    object?: string | null;
    lookup?: ArchiveLocation["lookup"];
  },
  timeMs: number,
): ArchiveLocation {
  const object = options.object ?? null;
  const elsewhere = options.lookup === "elsewhere";
  const hour = archiveFolder(options.prefix, options.topic, timeMs);
  const folder = object
    ? object.slice(0, object.lastIndexOf("/") + 1)
    : elsewhere
    ? hour.replace(/dt=[^/]*\/hour=[^/]*\/$/, "")
    : hour;
  return {
    folder,
    object_pattern: `${elsewhere ? "dt=*/hour=*/" : ""}${options.partition}-*.ndjson.gz`,
    object,
    lookup: options.lookup ?? (object ? "found" : "unknown"),
    url: options.bucket ? `s3://${options.bucket}/${object ?? folder}` : null,
  };
}

/**
 * Resolve evidence entries: read each event back from its stream (only the
 * service's own event streams are read, whatever the row says).
 *
 * @param options.fallbackTimeMs time used for the archive folder when the entry is gone (the anomaly's event time);
 *   with the event's own time (else this one) the archive is also looked up around the time the
 *   event was produced, hours before the bridge's ingest time when the bridge lagged
 * @param options.archive lister of the raw archive; each folder is listed once per call, and
 *   listing (and reading objects) gives up after 3 s (lookup `unknown`)
 */
export async function resolveEvidence(
  redis: EvidenceRedis,
  evidence: readonly Evidence[],
  options: {
    keys: Keys;
    archivePrefix: string;
    bucket?: string | undefined;
    fallbackTimeMs: number;
    archive?: ArchiveLister | undefined;
  },
): Promise<EvidenceItem[]> {
  const readable = evidence.filter((e) =>
    options.keys.parseEvents(e.stream) !== null && /^\d{1,20}-\d{1,20}$/.test(e.stream_id)
  );
  const replies = new Map<Evidence, [Error | null, unknown]>();
  if (readable.length > 0) {
    // One pipeline per slot: on a cluster the stream partitions live on different masters.
    const results = await pipelineBySlot(
      redis,
      readable.map((e) => ({
        key: e.stream,
        add: (p) => p.xrange(e.stream, e.stream_id, e.stream_id),
      })),
    );
    readable.forEach((e, i) => replies.set(e, results[i] ?? [new Error("no reply"), null]));
  }
  const resolved = evidence.map((e) => {
    const base = {
      ...e,
      available: false,
      event: null as unknown,
      key: null as string | null,
      ingest_ts: null as number | null,
      traceparent: null as string | null,
      problem: null as string | null,
    };
    const reply = replies.get(e);
    let timeMs = options.fallbackTimeMs;
    let eventTimeMs = options.fallbackTimeMs;
    if (!reply) {
      base.problem = "not one of this service's event streams";
    } else if (reply[0]) {
      base.problem = `Cannot read stream: ${reply[0].message}`;
    } else {
      const entries = Array.isArray(reply[1]) ? reply[1] : [];
      const first = entries[0] as unknown;
      const fields = Array.isArray(first) && Array.isArray(first[1]) ? first[1] : null;
      if (!fields) {
        base.problem = "no longer in the stream (trimmed); see the archive";
      } else {
        const parsed = streamEntrySchema.safeParse(
          fieldsToObject(fields.map((f: unknown) => String(f))),
        );
        if (!parsed.success) {
          base.problem = "stream entry has an unexpected shape";
        } else {
          base.available = true;
          base.key = parsed.data.key;
          base.ingest_ts = parsed.data.ingest_ts;
          base.traceparent = parsed.data.traceparent ?? null;
          timeMs = parsed.data.ingest_ts;
          try {
            base.event = JSON.parse(parsed.data.data);
            eventTimeMs = eventTime(base.event) ?? eventTimeMs;
          } catch {
            base.event = parsed.data.data;
            base.problem = "event data is not valid JSON";
          }
        }
      }
    }
    return { base, timeMs, eventTimeMs };
  });
  // Events sharing a folder or a partition list it, and read its progress record, once.
  const archive = options.archive;
  const list = archive ? once((prefix: string) => archive.list(prefix)) : undefined;
  const read = archive ? once((key: string) => archive.read(key)) : undefined;
  return await Promise.all(resolved.map(async ({ base, timeMs, eventTimeMs }) => {
    let object: string | null = null;
    let lookup: ArchiveLocation["lookup"] = "unknown";
    if (list && archive) {
      try {
        ({ object, lookup } = await withTimeout(
          findArchiveObject(
            list,
            {
              prefix: options.archivePrefix,
              topic: base.topic,
              partition: base.partition,
              offset: base.offset,
              timeMs,
              eventTimeMs,
            },
            read,
            archive.lastOffset,
          ),
          3000,
          "list the archive",
        ));
      } catch {
        lookup = "unknown";
      }
    }
    return {
      ...base,
      archive: archiveLocation({
        prefix: options.archivePrefix,
        bucket: options.bucket,
        topic: base.topic,
        partition: base.partition,
        object,
        lookup,
      }, timeMs),
    };
  }));
}

/** The event's own time (its `timestamp`, ms), when it has a valid one. */
function eventTime(event: unknown): number | null {
  const ts = (event as { timestamp?: unknown } | null)?.timestamp;
  const ms = typeof ts === "string" ? Date.parse(ts) : NaN;
  return Number.isFinite(ms) ? ms : null;
}

/**
 * `fn` called at most once per argument. A promise that outlives its caller's
 * timeout must not go unhandled, so each is observed here too.
 */
function once<T>(fn: (arg: string) => Promise<T>): (arg: string) => Promise<T> {
  const calls = new Map<string, Promise<T>>();
  return (arg) => {
    let p = calls.get(arg);
    if (!p) {
      p = fn(arg);
      p.catch(() => {});
      calls.set(arg, p);
    }
    return p;
  };
}
