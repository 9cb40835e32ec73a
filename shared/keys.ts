/**
 * Every Redis key, stream and channel name Vigil uses, built from one prefix
 * (default `vigil:`). No other module concatenates key strings.
 *
 * Names in braces are Redis Cluster hash tags: keys that a script or a
 * transaction touches together share one, so they live in one slot. A
 * partition of a stream, its bridge offsets, its detector checkpoint and its
 * lease share `{<kind>:<partition>}`; the dead-letter stream and its bridge
 * offsets share `{dlq}`; the alerts stream and its publication markers share
 * `{alerts}`. Quote them in a shell: `redis-cli XLEN 'vigil:events:{logs:0}'`.
 *
 * | key | kind | what |
 * |---|---|---|
 * | `vigil:events:{<kind>:<p>}` | stream | partition p of the events of a kind: `logs`, `metrics`, `transactions`, and with several partitions the projections `logs_by_user`, `transactions_by_status` |
 * | `vigil:bridge:offsets:{<kind>:<p>}` | hash | `topic:partition` → last Kafka offset appended to that stream (exactly-once) |
 * | `vigil:{dlq}` | stream | dead letters of every service: raw input (bounded) + reason |
 * | `vigil:bridge:offsets:{dlq}` | hash | `topic:partition` → last Kafka offset dead-lettered or recorded as a gap |
 * | `vigil:bridge:progress` | hash | `topic:partition` → last Kafka offset the bridge accounted for (gap detection) |
 * | `vigil:bridge:cluster` | string | the id of the Kafka cluster the bridge's offsets belong to |
 * | `vigil:meta` | hash | `partitions`: the partition count the data was written with |
 * | `vigil:{alerts}` | stream | durable alerts, read by the notifier (group `notifier`) |
 * | `vigil:{alerts}:published` | sorted set | alerts already appended (exactly-once publishing), kept 7 days |
 * | `vigil:alerts:live` | pub/sub | alerts for live views |
 * | `vigil:acks:live` | pub/sub | acknowledgements made on any web instance, for live views |
 * | `vigil:scores:<type>:<entity>:<measure>` | sorted set | recent scores (member `ts:score:value`, statistical ones `ts:score:value:low:high` with the expected range; `score_member.ts`) |
 * | `vigil:score-measures:<type>` | set | the measures that have score series of that type (the web lists an entity's series from it, never by SCAN) |
 * | `vigil:detector:state:{<kind>:<p>}` | hash | a partition's checkpointed window/engine state (`last_id`, `saved_at`, `chunks`, `state:0` … `state:<chunks-1>`) |
 * | `vigil:detector:state-next:{<kind>:<p>}:<member>` | hash | the checkpoint a detector instance is writing, chunk by chunk (expires after 10 min); renamed over the one above when complete, if that instance still holds the lease |
 * | `vigil:detector:lease:{<kind>:<p>}` | string | the detector instance consuming that partition |
 * | `vigil:detector:members` | sorted set | live detector instances (score: lease expiry, server time) |
 * | `vigil:detector:member:<member>` | string | the process using that member name (a random token; one process per name) |
 *
 * @module
 */
import { STREAM_KINDS, type StreamKind, type StreamUnit } from "./partitions.ts";
import type { EventType } from "./schemas/event.ts";

/** Key builder bound to a prefix. */
export interface Keys {
  readonly prefix: string;
  /** Partition `partition` (default 0) of the stream of a kind. */
  events(kind: StreamKind, partition?: number): string;
  /** The stream kind and partition of an events key, or null when `key` is not one. */
  parseEvents(key: string): { kind: StreamKind; partition: number } | null;
  /** Dead-letter stream. */
  dlq(): string;
  /** The bridge's exactly-once offsets of a stream partition, or of the dead-letter stream. */
  bridgeOffsets(target: { kind: StreamKind; partition: number } | "dlq"): string;
  /** Per Kafka `topic:partition`, the last offset the bridge accounted for. */
  bridgeProgress(): string;
  /** String: id of the Kafka cluster the bridge's offsets belong to. */
  bridgeCluster(): string;
  /** Installation facts (the partition count). */
  meta(): string;
  /** Durable alerts stream. */
  alerts(): string;
  /** Markers of the alerts already appended to {@link Keys.alerts}. */
  publishedMarkers(): string;
  /** Pub/Sub channel for live alerts. */
  alertsChannel(): string;
  /** Pub/Sub channel for acknowledgements (every web instance tells its live views). */
  acksChannel(): string;
  /** Recent scores of one series. */
  scores(type: EventType, entity: string, measure: string): string;
  /** The measures that have score series of `type` (written with the scores). */
  scoreMeasures(type: EventType): string;
  /** Checkpoint hash of a stream partition. */
  detectorState(unit: Pick<StreamUnit, "kind" | "partition">): string;
  /**
   * The checkpoint of a stream partition that detector instance `member` is
   * writing (renamed to {@link Keys.detectorState}); one per writer, so two
   * instances (one stalled past its lease) never mix their chunks.
   */
  detectorStateNext(unit: Pick<StreamUnit, "kind" | "partition">, member: string): string;
  /** Lease of a stream partition. */
  detectorLease(unit: Pick<StreamUnit, "kind" | "partition">): string;
  /** Live detector instances. */
  detectorMembers(): string;
  /** The process holding a detector member name (detector/io/member_name.ts). */
  detectorMemberName(member: string): string;
  /** A namespaced key of a tool or a test (benchmarks' scratch streams): `prefix + parts`. */
  scratch(...parts: string[]): string;
}

/** Consumer group names. */
export const GROUPS = {
  /** Kafka group of the bridge. */
  bridge: "vigil-bridge",
  /** Kafka group of the raw archive. */
  archive: "vigil-archive",
  /** Redis stream group of the detector (on every event stream partition). */
  detector: "detector",
  /** Redis stream group of the notifier. */
  notifier: "notifier",
} as const;

const EVENTS = /^events:\{([a-z_]+):(\d{1,3})\}$/;

/** Create the key builder for `prefix` (default `vigil:`). */
export function createKeys(prefix = "vigil:"): Keys {
  const p = prefix;
  const tag = (u: { kind: StreamKind; partition: number }) => `{${u.kind}:${u.partition}}`;
  return {
    prefix: p,
    events: (kind, partition = 0) => `${p}events:{${kind}:${partition}}`,
    parseEvents(key) {
      if (!key.startsWith(p)) return null;
      const m = EVENTS.exec(key.slice(p.length));
      if (!m) return null;
      const kind = m[1] as StreamKind;
      return STREAM_KINDS.includes(kind) ? { kind, partition: Number(m[2]) } : null;
    },
    dlq: () => `${p}{dlq}`,
    bridgeOffsets: (t) => `${p}bridge:offsets:${t === "dlq" ? "{dlq}" : tag(t)}`,
    bridgeProgress: () => `${p}bridge:progress`,
    bridgeCluster: () => `${p}bridge:cluster`,
    meta: () => `${p}meta`,
    alerts: () => `${p}{alerts}`,
    publishedMarkers: () => `${p}{alerts}:published`,
    alertsChannel: () => `${p}alerts:live`,
    acksChannel: () => `${p}acks:live`,
    scores: (type, entity, measure) => `${p}scores:${type}:${entity}:${measure}`,
    scoreMeasures: (type) => `${p}score-measures:${type}`,
    detectorState: (u) => `${p}detector:state:${tag(u)}`,
    detectorStateNext: (u, member) => `${p}detector:state-next:${tag(u)}:${member}`,
    detectorLease: (u) => `${p}detector:lease:${tag(u)}`,
    detectorMembers: () => `${p}detector:members`,
    detectorMemberName: (member) => `${p}detector:member:${member}`,
    scratch: (...parts) => `${p}${parts.join(":")}`,
  };
}
