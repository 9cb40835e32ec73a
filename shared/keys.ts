/**
 * Every Redis key, stream and channel name Vigil uses, built from one prefix
 * (default `vigil:`). No other module concatenates key strings.
 *
 * | key | kind | what |
 * |---|---|---|
 * | `vigil:events:<type>` | stream | validated events (logs, metrics, transactions) |
 * | `vigil:dlq` | stream | dead letters: raw input + reason |
 * | `vigil:bridge:offsets` | hash | `topic:partition` → last Kafka offset appended (dedup) |
 * | `vigil:alerts` | stream | durable alerts for the notifier |
 * | `vigil:alerts:live` | pub/sub | alerts for live views |
 * | `vigil:scores:<type>:<entity>:<measure>` | sorted set | recent scores (member `ts:score:value`) |
 * | `vigil:detector:state:<stream>` | hash | checkpointed window/engine state |
 * | `vigil:detector:cooldown` | hash | cooldown/active condition state |
 * | `vigil:notifier:*` | various | notifier group state |
 *
 * @module
 */
import type { EventType } from "./schemas/event.ts";

/** Key builder bound to a prefix. */
export interface Keys {
  readonly prefix: string;
  /** Stream of validated events of one type. */
  events(type: EventType): string;
  /** Dead-letter stream. */
  dlq(): string;
  /** Hash of last appended Kafka offset per `topic:partition` (bridge dedup). */
  bridgeOffsets(): string;
  /** Durable alerts stream. */
  alerts(): string;
  /** Pub/Sub channel for live alerts. */
  alertsChannel(): string;
  /** Recent scores of one series. */
  scores(type: EventType, entity: string, measure: string): string;
  /** Pattern matching every score key (for SCAN). */
  scoresPattern(): string;
  /** Detector checkpoint hash for a stream / purpose. */
  detectorState(name: string): string;
  /** Any other namespaced key: `prefix + parts.join(":")`. */
  key(...parts: string[]): string;
}

/** Consumer group names. */
export const GROUPS = {
  /** Kafka group of the bridge. */
  bridge: "vigil-bridge",
  /** Kafka group of the raw archive. */
  archive: "vigil-archive",
  /** Redis stream group of the detector. */
  detector: "detector",
  /** Redis stream group of the notifier. */
  notifier: "notifier",
} as const;

/** Create the key builder for `prefix` (default `vigil:`). */
export function createKeys(prefix = "vigil:"): Keys {
  const p = prefix;
  return {
    prefix: p,
    events: (type) => `${p}events:${type}`,
    dlq: () => `${p}dlq`,
    bridgeOffsets: () => `${p}bridge:offsets`,
    alerts: () => `${p}alerts`,
    alertsChannel: () => `${p}alerts:live`,
    scores: (type, entity, measure) => `${p}scores:${type}:${entity}:${measure}`,
    scoresPattern: () => `${p}scores:*`,
    detectorState: (name) => `${p}detector:state:${name}`,
    key: (...parts) => `${p}${parts.join(":")}`,
  };
}
