/**
 * PostgreSQL storage of anomalies (`anomaly_events`, migrations 001 + 010).
 *
 * - `insert`: one multi-row `INSERT … SELECT FROM jsonb_to_recordset($1)
 *   ON CONFLICT (id) DO NOTHING RETURNING *` per batch: a redelivered batch
 *   yields the same deterministic ids and creates nothing; it returns only
 *   the rows new now (the ones to publish).
 * - `resolve`: sets `resolved_at` (and the value it resolved at, migration
 *   075) on open rows, returning the rows it changed.
 * - `unpublished` / `markPublished`: the outbox (`published_at`,
 *   `resolved_published_at` NULL = still to publish), see publication.ts.
 *
 * @module
 */
import type postgres from "postgres";
import type { AnomalyEventRow } from "@vigil/shared/anomaly_events";
import type { Firing, Resolution } from "../core/rules/types.ts";

/** A row of `anomaly_events` as read back. */
export type AnomalyRow = AnomalyEventRow;

/** What the detector stores. */
export interface AnomalyStore {
  /**
   * Insert firings; returns the rows created now. Rows of these ids stored
   * earlier (a redelivery, a timed-out attempt that committed late) are not
   * returned: if unpublished, the outbox recovery publishes them.
   */
  insert(firings: readonly Firing[], stream: string): Promise<AnomalyRow[]>;
  /** The row of `id`, if stored. */
  get(id: string): Promise<AnomalyRow | undefined>;
  /** Resolve open rows; returns the rows resolved now. */
  resolve(resolutions: readonly Resolution[]): Promise<AnomalyRow[]>;
  /** Record that alerts were appended to the alerts stream. */
  markPublished(firing: readonly string[], resolved: readonly string[], at: number): Promise<void>;
  /**
   * Rows of `ids` still in the outbox: stored but not published (firing), or
   * resolved but not published as resolved. For a write that was retried: an
   * earlier attempt may have committed after it timed out.
   */
  unpublishedIn(
    ids: readonly string[],
  ): Promise<{ firing: AnomalyRow[]; resolved: AnomalyRow[] }>;
  /** Rows (stored at least `minAgeMs` ago) whose alert is not recorded as published yet. */
  unpublished(
    limit: number,
    minAgeMs?: number,
  ): Promise<{ firing: AnomalyRow[]; resolved: AnomalyRow[] }>;
  /** Open (unresolved) anomalies of `rule` and `entity`, newest first, at most `limit`. */
  open(rule: string, limit: number, entity: string): Promise<AnomalyRow[]>;
  /**
   * Per entity of `entities`: its open anomalies of `rule`, newest first, at most `limit` (one
   * entity's many rows push no other's out), and whether any of them, listed or not, is CRITICAL.
   * One query.
   */
  openByEntity(
    rule: string,
    entities: readonly string[],
    limit: number,
  ): Promise<Map<string, { rows: AnomalyRow[]; critical: boolean }>>;
  ping(): Promise<boolean>;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Create the store over a postgres.js client. */
export function createStore(deps: { sql: postgres.Sql }): AnomalyStore {
  const { sql } = deps;
  return {
    async insert(firings, stream) {
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
          stream,
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
      return await sql<AnomalyRow[]>`
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
          RETURNING *`;
    },
    async resolve(resolutions) {
      const rows: { id: string; at: string; value: number | null; details: unknown }[] = [];
      for (const r of resolutions) {
        const value = r.value !== undefined && Number.isFinite(r.value) ? r.value : null;
        for (const id of r.ids) rows.push({ id, at: iso(r.at), value, details: r.details ?? null });
      }
      if (rows.length === 0) return [];
      return await sql<AnomalyRow[]>`
        UPDATE anomaly_events a
        SET resolved_at = r.at, resolved_value = r.value, resolved_details = r.details
        FROM jsonb_to_recordset(${sql.json(rows as unknown as postgres.JSONValue)}::jsonb)
          AS r(id text, at timestamptz, value double precision, details jsonb)
        WHERE a.id = r.id AND a.resolved_at IS NULL
        RETURNING a.*`;
    },
    async markPublished(firing, resolved, at) {
      if (firing.length > 0) {
        await sql`
          UPDATE anomaly_events SET published_at = ${iso(at)}
          WHERE id = ANY(${firing as string[]}) AND published_at IS NULL`;
      }
      if (resolved.length > 0) {
        await sql`
          UPDATE anomaly_events SET resolved_published_at = ${iso(at)}
          WHERE id = ANY(${resolved as string[]}) AND resolved_published_at IS NULL`;
      }
    },
    async get(id) {
      return (await sql<AnomalyRow[]>`SELECT * FROM anomaly_events WHERE id = ${id}`)[0];
    },
    async unpublishedIn(ids) {
      if (ids.length === 0) return { firing: [], resolved: [] };
      const rows = await sql<AnomalyRow[]>`
        SELECT * FROM anomaly_events WHERE id = ANY(${ids as string[]})
          AND (published_at IS NULL
            OR (resolved_at IS NOT NULL AND resolved_published_at IS NULL))`;
      return {
        firing: rows.filter((r) => r.published_at === null),
        resolved: rows.filter((r) => r.resolved_at !== null && r.resolved_published_at === null),
      };
    },
    async unpublished(limit, minAgeMs = 0) {
      const before = iso(Date.now() - minAgeMs);
      const firing = await sql<AnomalyRow[]>`
        SELECT * FROM anomaly_events WHERE published_at IS NULL AND detected_at <= ${before}
        ORDER BY detected_at, id LIMIT ${limit}`;
      const resolved = await sql<AnomalyRow[]>`
        SELECT * FROM anomaly_events
        WHERE resolved_at IS NOT NULL AND resolved_published_at IS NULL
        ORDER BY resolved_at, id LIMIT ${limit}`;
      return { firing, resolved };
    },
    async open(rule, limit, entity) {
      return await sql<AnomalyRow[]>`
        SELECT * FROM anomaly_events WHERE rule = ${rule} AND entity = ${entity}
          AND resolved_at IS NULL
        ORDER BY detected_at DESC, id DESC LIMIT ${limit}`;
    },
    async openByEntity(rule, entities, limit) {
      const found = await sql<(AnomalyRow & { open_rank: string; any_critical: boolean })[]>`
        SELECT * FROM (
          SELECT *,
            row_number() OVER (PARTITION BY entity ORDER BY detected_at DESC, id DESC) AS open_rank,
            bool_or(severity = 'CRITICAL') OVER (PARTITION BY entity) AS any_critical
          FROM anomaly_events
          WHERE rule = ${rule} AND resolved_at IS NULL AND entity = ANY(${entities as string[]})
        ) ranked
        WHERE open_rank <= ${limit}
        ORDER BY entity, detected_at DESC, id DESC`;
      const out = new Map(entities.map((e) => [e, { rows: [] as AnomalyRow[], critical: false }]));
      for (const { open_rank: _rank, any_critical, ...row } of found) {
        const entry = out.get(row.entity)!;
        entry.rows.push(row as AnomalyRow);
        entry.critical ||= any_critical;
      }
      return out;
    },
    async ping() {
      await sql`SELECT 1`;
      return true;
    },
  };
}
