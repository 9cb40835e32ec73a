/**
 * An anomaly's evidence: the triggering events, read back from the Redis
 * event streams while they are still there (one pipelined `XRANGE id id` per
 * event), with their Kafka coordinates and where the raw archive keeps them.
 *
 * @module
 */
import type { z } from "zod";
import type { Evidence } from "@vigil/shared/schemas/alert";
import { fieldsToObject, streamEntrySchema } from "@vigil/shared/schemas/stream";
import type { Keys } from "@vigil/shared/keys";
import { withTimeout } from "@vigil/shared/lifecycle";
import type { Redis } from "@vigil/shared/redis";
import { pipelineBySlot } from "@vigil/shared/redis_cluster";
import { archiveFolder } from "@vigil/archive/format";
import { type ArchiveLister, findArchiveObject } from "./archive_lookup.ts";
import type { evidenceItemSchema } from "./api_responses.ts";

/** The Redis commands evidence lookup needs (one pipeline per slot on a cluster). */
export type EvidenceRedis = Pick<Redis, "pipeline" | "isCluster">;

/** One evidence event, resolved. */
export type EvidenceItem = z.infer<typeof evidenceItemSchema>;
/** Where the raw archive keeps an event. */
type ArchiveLocation = EvidenceItem["archive"];

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
  // Events sharing a folder or a partition list it, and read its progress record, once.
  const archive = options.archive;
  const list = archive ? once((prefix: string) => archive.list(prefix)) : undefined;
  const read = archive ? once((key: string) => archive.read(key)) : undefined;
  return await Promise.all(evidence.map(async (e) => {
    const base: Omit<EvidenceItem, "archive"> = {
      ...e,
      available: false,
      event: null,
      key: null,
      ingest_ts: null,
      traceparent: null,
      problem: null,
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
    // The object's folder; else the folder of the hour of its Kafka time (about), or for
    // `elsewhere` the topic's folder (archive_lookup.ts names the layout).
    const hour = archiveFolder(options.archivePrefix, base.topic, timeMs);
    const elsewhere = lookup === "elsewhere";
    const folder = object
      ? object.slice(0, object.lastIndexOf("/") + 1)
      : elsewhere
      ? hour.replace(/dt=[^/]*\/hour=[^/]*\/$/, "")
      : hour;
    const at: ArchiveLocation = {
      folder,
      object_pattern: `${elsewhere ? "dt=*/hour=*/" : ""}${base.partition}-*.ndjson.gz`,
      object,
      lookup,
      url: options.bucket ? `s3://${options.bucket}/${object ?? folder}` : null,
    };
    return { ...base, archive: at };
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
