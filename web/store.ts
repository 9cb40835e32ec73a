/**
 * Reads and the few writes the web service does on PostgreSQL: table
 * `anomaly_events` (migration 001: filtered keyset-paged lists, one
 * anomaly, per-bucket counts, an entity's facts, acknowledgements) and,
 * read only, the notifier's tables (migration 020: what it sent or planned
 * in a window; 060: which alerts it kept quiet).
 *
 * @module
 */
import type postgres from "postgres";
import type { z } from "zod";
import type { AnomalyEventRow } from "@vigil/shared/anomaly_events";
import { evidenceSchema, SEVERITIES, type Severity } from "@vigil/shared/schemas/alert";
import { EVENT_TYPES, type EventType } from "@vigil/shared/schemas/event";
import {
  type AckInput,
  type AnomalyListQuery,
  POSTGRES_LAST_MS,
} from "@vigil/shared/schemas/web_api";
import { digestsKeptSince } from "@vigil/shared/retention/runs";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import type { EntityFacts } from "./entity.ts";
import type { NotificationFigures } from "./notification_summary.ts";
import type {
  anomalyPageSchema,
  anomalySchema,
  notifierFateSchema,
  statsResponseSchema,
} from "./api_responses.ts";

type Sql = postgres.Sql;

/** An anomaly as the API returns it. */
export type Anomaly = z.infer<typeof anomalySchema>;

/** The columns the web reads (`COLUMNS`), with the keyset cursor's text. */
interface AnomalyRow extends Omit<AnomalyEventRow, "stream_ids" | "resolved_published_at"> {
  cursor_ts: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Map a row to the API shape; malformed evidence entries are dropped, not fatal. */
export function toAnomaly(row: Omit<AnomalyRow, "cursor_ts">): Anomaly {
  const evidence = (Array.isArray(row.evidence) ? row.evidence : []).flatMap((e) => {
    const parsed = evidenceSchema.safeParse(e);
    return parsed.success ? [parsed.data] : [];
  });
  return {
    id: row.id,
    status: row.resolved_at ? "resolved" : "firing",
    detected_at: row.detected_at.toISOString(),
    event_time: row.event_time.toISOString(),
    // The table's CHECK constraints guarantee these; the fallbacks only satisfy the types.
    type: EVENT_TYPES.find((t) => t === row.type) ?? "logs",
    rule: row.rule,
    severity: SEVERITIES.find((s) => s === row.severity) ?? "INFO",
    entity: row.entity,
    title: row.title,
    message: row.message,
    score: row.score,
    details: isRecord(row.details) ? row.details : {},
    evidence,
    resolved_at: row.resolved_at?.toISOString() ?? null,
    trace_id: row.trace_id,
    stages: {
      ...(isRecord(row.stages) ? row.stages : {}),
      // When its alert was published (the `published` stage).
      ...(row.published_at ? { published: row.published_at.getTime() } : {}),
    },
    acknowledged_at: row.acknowledged_at?.toISOString() ?? null,
    acknowledged_by: row.acknowledged_by,
    ack_comment: row.ack_comment,
  };
}

const COLUMNS = (sql: Sql) =>
  sql`id, detected_at, event_time, type, rule, severity, entity, title, message, score,
    evidence, details, resolved_at, trace_id, stages, published_at, acknowledged_at,
    acknowledged_by, ack_comment,
    to_char(detected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_ts`;

function oneOrAny(sql: Sql, column: string, values: readonly string[]) {
  return values.length === 1
    ? sql`${sql(column)} = ${values[0]!}`
    : sql`${sql(column)} = ANY(${sql.array([...values])})`;
}

/**
 * One page of anomalies matching `query`, newest first (by `detected_at`,
 * then `id`), using keyset paging.
 *
 * @throws {RangeError} "Cannot read cursor: …" for a cursor not from a previous page
 */
export async function listAnomalies(
  sql: Sql,
  query: AnomalyListQuery,
): Promise<z.infer<typeof anomalyPageSchema>> {
  const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  const conds = [];
  if (query.type) conds.push(oneOrAny(sql, "type", query.type));
  if (query.severity) conds.push(oneOrAny(sql, "severity", query.severity));
  if (query.rule !== undefined) conds.push(sql`rule = ${query.rule}`);
  if (query.entity !== undefined) conds.push(sql`entity = ${query.entity}`);
  if (query.from !== undefined) conds.push(sql`detected_at >= ${new Date(query.from)}`);
  if (query.to !== undefined) conds.push(sql`detected_at < ${new Date(query.to)}`);
  const nullness = (set: boolean) => (set ? sql`NOT NULL` : sql`NULL`);
  if (query.resolved !== undefined) conds.push(sql`resolved_at IS ${nullness(query.resolved)}`);
  if (query.acknowledged !== undefined) {
    conds.push(sql`acknowledged_at IS ${nullness(query.acknowledged)}`);
  }
  // `::text` first: a parameter typed timestamptz is serialised by postgres.js through a JS Date,
  // which keeps milliseconds only, and the rows sharing the cursor's microseconds (one batch's
  // now()) were skipped.
  if (cursor) {
    conds.push(sql`(detected_at, id) < (${cursor.ts}::text::timestamptz, ${cursor.id})`);
  }
  const where = conds.length === 0 ? sql`TRUE` : conds.reduce((acc, c) => sql`${acc} AND ${c}`);
  const rows = await sql<AnomalyRow[]>`
    SELECT ${COLUMNS(sql)} FROM anomaly_events WHERE ${where}
    ORDER BY detected_at DESC, id DESC LIMIT ${query.limit + 1}`;
  const more = rows.length > query.limit;
  const page = more ? rows.slice(0, query.limit) : rows;
  const last = page[page.length - 1];
  return {
    items: page.map(toAnomaly),
    next_cursor: more && last ? encodeCursor({ ts: last.cursor_ts, id: last.id }) : null,
  };
}

/** One anomaly by id, or null. */
export async function getAnomaly(sql: Sql, id: string): Promise<Anomaly | null> {
  const rows = await sql<AnomalyRow[]>`SELECT ${COLUMNS(sql)} FROM anomaly_events WHERE id = ${id}`;
  return rows[0] ? toAnomaly(rows[0]) : null;
}

/**
 * Record who acknowledged an anomaly, when (now) and why. The first
 * acknowledgement stands: a second one (two people at the same moment
 * included: the row's lock orders them) changes nothing and gets the
 * anomaly as acknowledged, with `acknowledged: false`; the same one again (a
 * retry whose answer was lost: same `by` and comment) gets `acknowledged: true`.
 *
 * @returns the anomaly and whether this call acknowledged it, or null when no anomaly has this id
 */
export async function acknowledgeAnomaly(
  sql: Sql,
  id: string,
  ack: AckInput,
): Promise<{ anomaly: Anomaly; acknowledged: boolean } | null> {
  const rows = await sql<AnomalyRow[]>`
    UPDATE anomaly_events
    SET acknowledged_at = now(), acknowledged_by = ${ack.by}, ack_comment = ${ack.comment}
    WHERE id = ${id} AND acknowledged_at IS NULL
    RETURNING ${COLUMNS(sql)}`;
  if (rows[0]) return { anomaly: toAnomaly(rows[0]), acknowledged: true };
  const existing = await getAnomaly(sql, id);
  if (!existing) return null;
  // The same acknowledgement again (a retry whose answer was lost) is done, not a conflict.
  const same = existing.acknowledged_by === ack.by && existing.ack_comment === ack.comment;
  return { anomaly: existing, acknowledged: same };
}

/** Counts per bucket, type and severity (non-zero buckets only, oldest first). */
export type Stats = z.infer<typeof statsResponseSchema>;

/**
 * Counts of anomalies detected in `[fromMs, toMs)` per `bucket` (UTC minutes or hours, whatever
 * the server's or session's TimeZone: a half-hour zone shifted hour buckets), type and severity.
 */
export async function anomalyStats(
  sql: Sql,
  options: { fromMs: number; toMs: number; bucket: "minute" | "hour" },
): Promise<Stats> {
  const rows = await sql<
    { t: Date; type: string; severity: string; count: number; open: number }[]
  >`
    SELECT date_trunc(${options.bucket}, detected_at, 'UTC') AS t, type, severity,
      count(*)::int AS count,
      count(*) FILTER (WHERE resolved_at IS NULL)::int AS open
    FROM anomaly_events
    WHERE detected_at >= ${new Date(options.fromMs)} AND detected_at < ${new Date(options.toMs)}
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`;
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  const byType = Object.fromEntries(EVENT_TYPES.map((t) => [t, 0])) as Record<EventType, number>;
  let all = 0;
  let open = 0;
  for (const r of rows) {
    all += r.count;
    open += r.open;
    if (r.severity in bySeverity) bySeverity[r.severity as Severity] += r.count;
    if (r.type in byType) byType[r.type as EventType] += r.count;
  }
  return {
    from: new Date(options.fromMs).toISOString(),
    to: new Date(options.toMs).toISOString(),
    bucket: options.bucket,
    points: rows.map((r) => ({
      t: r.t.toISOString(),
      type: r.type,
      severity: r.severity,
      count: r.count,
    })),
    totals: { all, open, by_severity: bySeverity, by_type: byType },
  };
}

/** Small summary for the live heartbeat: anomalies of the last hour by severity, and how many of them are open. */
export async function heartbeatStats(sql: Sql, nowMs: number) {
  const fromMs = nowMs - 3_600_000;
  const { totals } = await anomalyStats(sql, { fromMs, toMs: POSTGRES_LAST_MS, bucket: "hour" });
  return { last_hour: totals.by_severity, open_last_hour: totals.open };
}

/**
 * What `anomaly_events` holds about one entity (of one type, when given);
 * `types` lists every type it has anomalies of, whatever `type` narrows.
 */
export async function entityFacts(
  sql: Sql,
  entity: string,
  type?: EventType | undefined,
): Promise<EntityFacts> {
  const of = sql`(${type ?? null}::text IS NULL OR type = ${type ?? ""})`;
  const rows = await sql<
    {
      anomalies: number;
      open: number;
      last_anomaly_at: Date | null;
      last_event_at: Date | null;
      types: string[] | null;
    }[]
  >`
    SELECT count(*) FILTER (WHERE ${of})::int AS anomalies,
      count(*) FILTER (WHERE ${of} AND resolved_at IS NULL)::int AS open,
      max(detected_at) FILTER (WHERE ${of}) AS last_anomaly_at,
      max(event_time) FILTER (WHERE ${of}) AS last_event_at,
      array_agg(DISTINCT type ORDER BY type) AS types
    FROM anomaly_events
    WHERE entity = ${entity}`;
  const r = rows[0];
  return {
    anomalies: r?.anomalies ?? 0,
    open: r?.open ?? 0,
    last_anomaly_at: r?.last_anomaly_at?.toISOString() ?? null,
    last_event_at: r?.last_event_at?.toISOString() ?? null,
    types: (r?.types ?? []).flatMap((t) => EVENT_TYPES.filter((e) => e === t)),
  };
}

/**
 * Count what the notifier sent or planned in `[fromMs, toMs)`, from its
 * tables (definitions in notification_summary.ts). Four grouped queries,
 * each on an index of its time column (`pending` uses the partial index of
 * pending notifications).
 */
export async function notificationFigures(
  sql: Sql,
  options: { fromMs: number; toMs: number },
): Promise<NotificationFigures> {
  const from = new Date(options.fromMs);
  const to = new Date(options.toMs);
  const [channels, digests, waiting, intake] = await Promise.all([
    sql<NotificationFigures["channels"]>`
      SELECT d.route, n.channel,
        count(*) FILTER (WHERE n.created_at >= ${from} AND n.created_at < ${to})::int AS planned,
        count(*) FILTER (WHERE n.sent_at >= ${from} AND n.sent_at < ${to})::int AS sent,
        count(*) FILTER (WHERE n.status = 'pending')::int AS pending,
        count(*) FILTER (WHERE n.status = 'failed' AND n.created_at >= ${from}
          AND n.created_at < ${to})::int AS failed,
        coalesce(sum(n.alert_count) FILTER (WHERE n.sent_at >= ${from} AND n.sent_at < ${to}),
          0)::int AS alerts_sent
      FROM notifications n JOIN notifier_digests d ON d.id = n.digest_id
      WHERE (n.created_at >= ${from} AND n.created_at < ${to})
        OR (n.sent_at >= ${from} AND n.sent_at < ${to}) OR n.status = 'pending'
      GROUP BY 1, 2 ORDER BY 1, 2`,
    sql<NotificationFigures["digests"]>`
      SELECT route, kind, count(*)::int AS digests, sum(cardinality(alert_ids))::int AS alerts
      FROM notifier_digests WHERE created_at >= ${from} AND created_at < ${to}
      GROUP BY 1, 2 ORDER BY 1, 2`,
    // The group key starts with the route's name (`<route>|<labels>`; names hold no "|").
    // An alert acknowledged before a digest told it is quiet: no digest will carry it.
    sql<NotificationFigures["waiting"]>`
      SELECT split_part(coalesce(a.group_key, ''), '|', 1) AS route, count(*)::int AS alerts
      FROM notifier_alerts a
      WHERE a.received_at >= ${from} AND a.received_at < ${to} AND a.disposition = 'grouped'
        AND NOT EXISTS (SELECT 1 FROM notifier_digest_entries e WHERE e.stream_id = a.stream_id)
        -- Taken in before retention's last cutoff: the digest that told it may be deleted.
        AND a.received_at >= ${digestsKeptSince(sql)}
        AND NOT EXISTS (SELECT 1 FROM anomaly_events ev
          WHERE ev.id = a.alert_id AND ev.acknowledged_at IS NOT NULL)
      GROUP BY 1 ORDER BY 1`,
    sql<NotificationFigures["intake"]>`
      SELECT disposition, count(*)::int AS alerts FROM notifier_alerts
      WHERE received_at >= ${from} AND received_at < ${to}
      GROUP BY 1 ORDER BY 1`,
  ]);
  const plain = <T>(rows: readonly T[]): T[] => rows.map((r) => ({ ...r }));
  return {
    channels: plain(channels),
    digests: plain(digests),
    waiting: plain(waiting),
    intake: plain(intake),
  };
}

/**
 * The notifier's latest record of alert `id` when it was kept out of
 * digests (inhibited or recorded only), else null. An inhibited alert a
 * notification listed since (released when its source resolved) was told
 * after all: null. On the alert_id index and notifications' alert_ids index.
 */
export async function notifierFate(
  sql: Sql,
  id: string,
): Promise<z.infer<typeof notifierFateSchema> | null> {
  const [row] = await sql<{ disposition: string; inhibited_by: string | null; told: boolean }[]>`
    SELECT a.disposition, a.inhibited_by, a.disposition = 'inhibited' AND EXISTS (
        SELECT 1 FROM notifications n
        WHERE n.alert_ids @> ARRAY[a.alert_id] AND n.created_at >= a.received_at
      ) AS told
    FROM notifier_alerts a
    WHERE a.alert_id = ${id} AND a.status = 'firing'
    ORDER BY a.received_at DESC LIMIT 1`;
  if (row?.told || (row?.disposition !== "inhibited" && row?.disposition !== "recorded")) {
    return null;
  }
  return { disposition: row.disposition, inhibited_by: row.inhibited_by };
}
