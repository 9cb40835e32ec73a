/**
 * How events are spread over partitioned streams, so several detectors can
 * each do 1/n of the work (see docs/architecture.md, "Scaling out").
 *
 * Every event goes to partition `fnv1a(entity) mod P` of its type's stream
 * (`VIGIL_PARTITIONS` = P), the entity being the one the type's rules key
 * their windows on: the service for logs and metrics, the user for
 * transactions. One entity's events therefore stay in order in one
 * partition, and every window lives in one place.
 *
 * Two rules key on another field than their stream's entity: `user_spike`
 * (logs per user) and `status_zscore` (transactions per status). With
 * P = 1 they run on the one partition like every rule. With P > 1 the bridge
 * also appends a small projection of each such event (its timestamp and that
 * field) to a projection stream partitioned by that field (`logs_by_user`,
 * `transactions_by_status`), where those rules run: the way Kafka Streams
 * repartitions a stream before a keyed aggregation.
 *
 * @module
 */
import { fnv1a } from "./hash.ts";
import type { EventType } from "./schemas/event.ts";

/** A partitioned stream family: an event type, or a projection of one. */
export const STREAM_KINDS = [
  "logs",
  "metrics",
  "transactions",
  "logs_by_user",
  "transactions_by_status",
] as const;
export type StreamKind = (typeof STREAM_KINDS)[number];

/** The event type a stream kind holds (a projection holds its source type's events, reduced). */
export function typeOfKind(kind: StreamKind): EventType {
  return kind === "logs_by_user"
    ? "logs"
    : kind === "transactions_by_status"
    ? "transactions"
    : kind;
}

/** The stream kinds in use with `partitions` partitions (projections only when > 1). */
export function kindsFor(partitions: number): readonly StreamKind[] {
  return partitions > 1 ? STREAM_KINDS : ["logs", "metrics", "transactions"];
}

/** The partition of `key` among `partitions`. */
export function partitionOf(key: string, partitions: number): number {
  return partitions <= 1 ? 0 : fnv1a(key) % partitions;
}

/** One partition of one stream kind: what a detector instance owns and consumes. */
export interface StreamUnit {
  kind: StreamKind;
  partition: number;
  /** `<kind>:<partition>`: the unit's name in logs, leases and consumer names. */
  name: string;
}

/** Every unit with `partitions` partitions, in a stable order. */
export function unitsFor(partitions: number): StreamUnit[] {
  const out: StreamUnit[] = [];
  for (const kind of kindsFor(partitions)) {
    for (let p = 0; p < partitions; p++) out.push({ kind, partition: p, name: `${kind}:${p}` });
  }
  return out;
}

/** Highest accepted `VIGIL_PARTITIONS`. */
export const MAX_PARTITIONS = 256;
