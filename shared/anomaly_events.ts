/**
 * The `anomaly_events` table (migrations 001 and 010): the detector writes
 * it, the web reads and acknowledges, the notifier's summary counts it.
 *
 * @module
 */

/** A row of `anomaly_events` as postgres.js reads it (`SELECT *`). */
export interface AnomalyEventRow {
  /** Deterministic: a redelivery maps to the same id. */
  id: string;
  detected_at: Date;
  event_time: Date;
  type: string;
  rule: string;
  severity: string;
  entity: string;
  title: string;
  message: string;
  score: number | null;
  /** Redis stream ids of the triggering events. */
  stream_ids: string[];
  evidence: unknown;
  details: unknown;
  resolved_at: Date | null;
  /** The observed value that cleared it, when the rule knew it (migration 075). */
  resolved_value?: number | null;
  /** That reading in the firing details' keys (migration 075). */
  resolved_details?: unknown;
  trace_id: string | null;
  stages: unknown;
  /** When the firing alert was appended to the alerts stream (the outbox). */
  published_at: Date | null;
  /** When the resolved alert was appended. */
  resolved_published_at: Date | null;
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
  ack_comment: string | null;
}
