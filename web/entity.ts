/**
 * The entity view (`GET /api/entities/:entity`): the current state of a
 * service, user or status from its anomalies and its cached score series.
 * Pure: the store and the series cache supply the facts.
 *
 * @module
 */
import type { z } from "zod";
import type { EventType } from "@vigil/shared/schemas/event";
import type { entityResponseSchema } from "./api_responses.ts";

/** What the store knows of an entity's anomalies. */
export interface EntityFacts {
  /** Anomalies recorded for it. */
  anomalies: number;
  /** Of them, not resolved. */
  open: number;
  /** Newest `detected_at`, ISO 8601, or null. */
  last_anomaly_at: string | null;
  /** Newest `event_time`, ISO 8601, or null. */
  last_event_at: string | null;
  /** Types its anomalies have. */
  types: EventType[];
}

/** An entity's current state. */
export type EntityState = z.infer<typeof entityResponseSchema>["state"];

/**
 * The entity's state from its anomaly facts and the points of its cached
 * series (timestamps in ms).
 */
export function entityState(
  facts: EntityFacts,
  series: readonly { points: readonly { ts: number }[] }[],
): EntityState {
  let newest = facts.last_event_at === null ? -Infinity : Date.parse(facts.last_event_at);
  for (const s of series) for (const p of s.points) if (p.ts > newest) newest = p.ts;
  return {
    status: facts.open > 0 ? "firing" : facts.anomalies > 0 ? "resolved" : "quiet",
    anomalies: facts.anomalies,
    open: facts.open,
    last_anomaly_at: facts.last_anomaly_at,
    last_seen_at: Number.isFinite(newest) ? new Date(newest).toISOString() : null,
  };
}
