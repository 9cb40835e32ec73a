/**
 * PostgreSQL storage of anomalies (`anomaly_events`, migrations 001 + 010).
 *
 * - `insert`: one multi-row `INSERT … SELECT FROM jsonb_to_recordset($1)
 *   ON CONFLICT (id) DO NOTHING RETURNING *` per batch: a redelivered batch
 *   yields the same deterministic ids and creates nothing; RETURNING tells
 *   which rows are new (only those are published).
 * - `resolve`: sets `resolved_at` on open rows, returning the rows it changed.
 * - `markPublished` / `unpublished`: publication state for the recovery pass.
 *
 * @module
 */
import type postgres from "postgres";
import type { Keys } from "@vigil/shared/keys";
import type { Firing, Resolution } from "../core/rules/types.ts";

/** A row of `anomaly_events` as read back (`created`: inserted by this call). */
export interface AnomalyRow {
  created?: boolean;
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
  stream_ids: string[];
  evidence: unknown;
  details: unknown;
  resolved_at: Date | null;
  trace_id: string | null;
  stages: unknown;
  published_at: Date | null;
  resolved_published_at: Date | null;
}

/** What the detector stores. */
export interface AnomalyStore {
  /**
   * Insert firings; returns the rows created now (`created: true`) plus rows
   * of these ids stored earlier but not published yet (a timed-out attempt
   * that committed late, a crash before publishing).
   */
  insert(firings: readonly Firing[]): Promise<AnomalyRow[]>;
  /** Resolve open rows; returns rows resolved now or earlier but not yet published as resolved. */
  resolve(resolutions: readonly Resolution[]): Promise<AnomalyRow[]>;
  /** Record that alerts were appended to the alerts stream. */
  markPublished(firing: readonly string[], resolved: readonly string[], at: number): Promise<void>;
  /** Rows whose firing or resolved alert is not recorded as published yet. */
  unpublished(limit: number): Promise<{ firing: AnomalyRow[]; resolved: AnomalyRow[] }>;
  ping(): Promise<boolean>;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Create the store over a postgres.js client. */
export function createStore(deps: { sql: postgres.Sql; keys: Keys }): AnomalyStore {
  const { sql, keys } = deps;
  return {
    async insert(firings) {
      if (firings.length === 0) return [];
      const rows = firings.map((f) => ({
        id: f.id,
        event_time: iso(f.eventTime),
        type: f.type,
        rule: f.rule,
        severity: f.severity,
        entity: f.entity,
        title: f.title,
        message: f.message,
        score: f.score !== null && Number.isFinite(f.score) ? f.score : null,
        stream_ids: f.evidence.map((e) => e.id),
        evidence: f.evidence.map((e) => ({
          stream: keys.events(f.type),
          stream_id: e.id,
          topic: f.type,
          partition: e.partition,
          offset: e.offset,
        })),
        details: f.details,
        trace_id: f.traceId,
        stages: f.ingestTs === null
          ? { event: f.eventTime }
          : { event: f.eventTime, ingest: f.ingestTs },
      }));
      // The outer SELECT runs on the statement's snapshot: it sees only rows
      // that existed before, so `created` is exact.
      return await sql<AnomalyRow[]>`
        WITH ins AS (
          INSERT INTO anomaly_events (id, event_time, type, rule, severity, entity, title, message,
            score, stream_ids, evidence, details, trace_id, stages)
          SELECT id, event_time, type, rule, severity, entity, title, message,
            score, stream_ids, evidence, details, trace_id,
            stages || jsonb_build_object('stored', floor(extract(epoch FROM now()) * 1000)::bigint)
          FROM jsonb_to_recordset(${sql.json(rows as unknown as postgres.JSONValue)}::jsonb) AS r(
            id text, event_time timestamptz, type text, rule text, severity text, entity text,
            title text, message text, score double precision, stream_ids text[], evidence jsonb,
            details jsonb, trace_id text, stages jsonb)
          ON CONFLICT (id) DO NOTHING
          RETURNING *)
        SELECT true AS created, * FROM ins
        UNION ALL
        SELECT false AS created, * FROM anomaly_events
        WHERE id = ANY(${rows.map((r) => r.id)}) AND published_at IS NULL`;
    },
    async resolve(resolutions) {
      const rows: { id: string; at: string }[] = [];
      for (const r of resolutions) for (const id of r.ids) rows.push({ id, at: iso(r.at) });
      if (rows.length === 0) return [];
      return await sql<AnomalyRow[]>`
        WITH upd AS (
          UPDATE anomaly_events a SET resolved_at = r.at
          FROM jsonb_to_recordset(${sql.json(rows)}::jsonb) AS r(id text, at timestamptz)
          WHERE a.id = r.id AND a.resolved_at IS NULL
          RETURNING a.*)
        SELECT true AS created, * FROM upd
        UNION ALL
        SELECT false AS created, * FROM anomaly_events
        WHERE id = ANY(${rows.map((r) => r.id)}) AND resolved_at IS NOT NULL
          AND resolved_published_at IS NULL`;
    },
    async markPublished(firing, resolved, at) {
      if (firing.length > 0) {
        await sql`
          UPDATE anomaly_events
          SET published_at = ${
          iso(at)
        }, stages = stages || jsonb_build_object('published', ${at}::bigint)
          WHERE id = ANY(${firing as string[]}) AND published_at IS NULL`;
      }
      if (resolved.length > 0) {
        await sql`
          UPDATE anomaly_events SET resolved_published_at = ${iso(at)}
          WHERE id = ANY(${resolved as string[]}) AND resolved_published_at IS NULL`;
      }
    },
    async unpublished(limit) {
      const firing = await sql<AnomalyRow[]>`
        SELECT * FROM anomaly_events WHERE published_at IS NULL
        ORDER BY detected_at, id LIMIT ${limit}`;
      const resolved = await sql<AnomalyRow[]>`
        SELECT * FROM anomaly_events
        WHERE resolved_at IS NOT NULL AND resolved_published_at IS NULL
        ORDER BY resolved_at, id LIMIT ${limit}`;
      return { firing, resolved };
    },
    async ping() {
      await sql`SELECT 1`;
      return true;
    },
  };
}
