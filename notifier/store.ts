/**
 * The notifier's PostgreSQL store (migration 020): batcher state, the alerts
 * taken in, digests planned before sending, and one `notifications` row per
 * digest and channel: the durable "channel C accepted digest D" record that
 * is checked before every send.
 *
 * @module
 */
import type postgres from "postgres";
import type { z } from "zod";
import type { notificationListQuerySchema } from "@vigil/shared/schemas/notifier_api";
import type { BatcherState, BatchResult, GroupState, IngestItem } from "./batcher.ts";
import type { Alert } from "@vigil/shared/schemas/alert";
import type { Digest } from "./digest.ts";
import type { ReplayAlert } from "./preview.ts";
import { digestsKeptSince } from "@vigil/shared/retention/runs";

/** A notification waiting to be sent. */
export interface PendingNotification {
  /** Null when not due at the time asked (not read: a storm's digest is megabytes). */
  digest: Digest | null;
  channel: string;
  attempts: number;
  partsSent: number;
  createdAt: number;
  nextAttemptAt: number;
  /** When it was last tried (null: never). */
  lastAttemptAt?: number | null;
  /** Why the last attempt failed (kept in the row when the notification is given up). */
  lastError?: string | null;
  /** Email recipients that had their final answer in earlier attempts (not sent to again). */
  recipientsDone?: Record<string, string>;
}

/** The outcome of one attempt, to record. */
export interface AttemptRecord {
  digestId: string;
  channel: string;
  attempt: number;
  ok: boolean;
  /** Final state after this attempt. */
  status: "pending" | "sent" | "failed";
  retryable?: boolean;
  statusCode?: number;
  error?: string;
  durationMs: number;
  nextAttemptAt?: number;
  /** Alert ids of the digest (for stages.notified on anomaly_events). */
  alertIds: string[];
  at: number;
  /** Recipients that had their final answer in this attempt (merged into `recipients_done`). */
  recipients?: Record<string, string>;
  /** False when nothing was sent (given up): no `notification_attempts` row. @default {true} */
  attempted?: boolean;
}

/** One row of `notifications` for the API. */
export interface NotificationRow {
  digest_id: string;
  channel: string;
  alert_ids: string[];
  alert_count: number;
  trace_ids: string[];
  status: string;
  attempts: number;
  parts_sent: number;
  error: string | null;
  created_at: string;
  last_attempt_at: string | null;
  sent_at: string | null;
  /** Per alert id: its stage timestamps (ms), `notified` included once sent. */
  stages: Record<string, Record<string, number>>;
}

/** The store port the notifier uses. */
export interface NotifierStore {
  loadState(): Promise<BatcherState>;
  /** Which of `streamIds` were already taken in. */
  knownStreamIds(streamIds: readonly string[]): Promise<Set<string>>;
  /** Atomically record taken-in alerts, group changes, new digests and their notifications. */
  commit(input: { items: readonly IngestItem[]; result: BatchResult }): Promise<void>;
  /**
   * The oldest pending notification of `channel`, its digest only when due at `now` (absent:
   * always). A channel backing off looks each second: a storm's digest, read and parsed each
   * time, held the event loop (intake, timers, the other channels) hundreds of ms a second.
   */
  nextPending(channel: string, now?: number): Promise<PendingNotification | null>;
  /** Record that parts were accepted (multi-message channels). */
  setPartsSent(digestId: string, channel: string, partsSent: number): Promise<void>;
  /** Record one attempt and the notification's new state. */
  recordAttempt(rec: AttemptRecord): Promise<void>;
  /**
   * Alerts taken in (grouped, last 2 days) whose delivery is not final:
   * not in a digest yet (and not acknowledged: quiet, never sent; and taken in
   * since retention's last cutoff of digests: before it, the digest that told
   * it may be deleted), or in a digest still pending on some channel.
   */
  undelivered(): Promise<number>;
  /** Which of `alertIds` were acknowledged in the web (`anomaly_events.acknowledged_at`). */
  acknowledged(alertIds: readonly string[]): Promise<Set<string>>;
  /**
   * Alerts taken in during `[fromMs, toMs)`, oldest first, silenced ones
   * left out, at most `limit` (the newest kept): the preview's input.
   */
  alertsTakenIn(
    window: { fromMs: number; toMs: number; limit: number },
  ): Promise<{ alerts: ReplayAlert[]; truncated: boolean }>;
  /** Fail pending notifications of channels that are no longer configured; the channel of each. */
  failUnconfigured(channels: readonly string[]): Promise<string[]>;
  /** `GET /api/notifications`: by alert, digest or status, newest first. */
  listNotifications(
    filter: z.infer<typeof notificationListQuerySchema>,
  ): Promise<NotificationRow[]>;
}

/** Create the PostgreSQL store. */
export function createStore(sql: postgres.Sql): NotifierStore {
  return {
    async loadState() {
      const rows = await sql<{ group_key: string; state: GroupState }[]>`
        SELECT group_key, state FROM notifier_groups`;
      const groups = Object.fromEntries(rows.map((r) => [r.group_key, r.state]));
      const flaps = await sql<{ state: Record<string, number[]> }[]>`
        SELECT state FROM notifier_state WHERE name = 'flaps'`;
      return { groups, flaps: flaps[0]?.state ?? {} };
    },

    async knownStreamIds(streamIds) {
      if (streamIds.length === 0) return new Set();
      const rows = await sql<{ stream_id: string }[]>`
        SELECT stream_id FROM notifier_alerts WHERE stream_id = ANY(${streamIds as string[]})`;
      return new Set(rows.map((r) => r.stream_id));
    },

    async commit({ items, result }) {
      const settled = new Map(result.settled.map((s) => [s.streamId, s]));
      const alertRows = items.map(({ streamId, alert }) => {
        const s = settled.get(streamId);
        return {
          stream_id: streamId,
          alert_id: alert.id,
          status: alert.status,
          type: alert.type,
          rule: alert.rule,
          severity: alert.severity,
          entity: alert.entity,
          alert: sql.json(alert as unknown as postgres.JSONValue),
          disposition: s ? s.disposition : "grouped",
          group_key: result.placed[streamId] ?? null,
          silence_id: s?.silenceId ?? null,
          inhibited_by: s?.inhibitedBy ?? null,
        };
      });
      const itemIds = new Set(items.map((i) => i.streamId));
      // Settled at a flush (silenced later, inhibited): their rows exist already.
      const lateSettled = result.settled.filter((s) => !itemIds.has(s.streamId));
      await sql.begin(async (tx) => {
        if (alertRows.length) {
          await tx`INSERT INTO notifier_alerts ${tx(alertRows)} ON CONFLICT (stream_id) DO NOTHING`;
        }
        if (lateSettled.length) {
          await tx`UPDATE notifier_alerts a SET disposition = v.disposition,
              silence_id = NULLIF(v.silence_id, ''), inhibited_by = NULLIF(v.inhibited_by, '')
            FROM unnest(${lateSettled.map((s) => s.streamId)}::text[],
              ${lateSettled.map((s) => s.disposition)}::text[],
              ${lateSettled.map((s) => s.silenceId ?? "")}::text[],
              ${lateSettled.map((s) => s.inhibitedBy ?? "")}::text[])
              AS v(stream_id, disposition, silence_id, inhibited_by)
            WHERE a.stream_id = v.stream_id`;
        }
        const upserts = result.changed.filter((k) => result.state.groups[k]);
        const removed = result.changed.filter((k) => !result.state.groups[k]);
        if (upserts.length) {
          const rows = upserts.map((k) => ({
            group_key: k,
            state: tx.json(result.state.groups[k] as unknown as postgres.JSONValue),
          }));
          await tx`INSERT INTO notifier_groups ${tx(rows)}
            ON CONFLICT (group_key) DO UPDATE SET state = EXCLUDED.state, updated_at = now()`;
        }
        if (removed.length) {
          await tx`DELETE FROM notifier_groups WHERE group_key = ANY(${removed})`;
        }
        await tx`INSERT INTO notifier_state (name, state) VALUES ('flaps', ${
          tx.json(result.state.flaps)
        }) ON CONFLICT (name) DO UPDATE SET state = EXCLUDED.state, updated_at = now()`;
        for (const d of result.digests) {
          const alertIds = [...new Set(d.alerts.map((a) => a.id))];
          const traceIds = [
            ...new Set(d.alerts.map((a) => a.trace_id).filter((t): t is string => !!t)),
          ];
          const inserted = await tx`INSERT INTO notifier_digests
            (id, kind, route, group_key, created_at, alert_ids, trace_ids, digest)
            VALUES (${d.id}, ${d.kind}, ${d.route}, ${d.groupKey}, ${new Date(d.createdAt)},
              ${alertIds}, ${traceIds}, ${tx.json(d as unknown as postgres.JSONValue)})
            ON CONFLICT (id) DO NOTHING RETURNING id`;
          if (inserted.length === 0) continue; // planned before a crash: keep the original
          if (d.streamIds.length) {
            await tx`INSERT INTO notifier_digest_entries ${
              tx(d.streamIds.map((s) => ({ stream_id: s, digest_id: d.id })))
            } ON CONFLICT DO NOTHING`;
          }
          const rows = d.channels.map((channel) => ({
            digest_id: d.id,
            channel,
            alert_ids: alertIds,
            alert_count: d.alerts.length,
            trace_ids: traceIds,
            created_at: new Date(d.createdAt),
            next_attempt_at: new Date(d.createdAt),
          }));
          if (rows.length) await tx`INSERT INTO notifications ${tx(rows)} ON CONFLICT DO NOTHING`;
        }
      });
    },

    async nextPending(channel, now) {
      const due = now === undefined ? null : new Date(now);
      const rows = await sql<
        {
          digest: Digest | null;
          attempts: number;
          parts_sent: number;
          created_at: Date;
          next_attempt_at: Date;
          last_attempt_at: Date | null;
          error: string | null;
          recipients_done: Record<string, string>;
        }[]
      >`SELECT CASE WHEN ${due}::timestamptz IS NULL OR n.next_attempt_at <= ${due}::timestamptz
            OR COALESCE(n.last_attempt_at, n.created_at) > ${due}::timestamptz
            THEN d.digest END AS digest, -- delivery.ts isDue(): due, or the clock set back
          n.attempts, n.parts_sent, n.created_at, n.next_attempt_at, n.last_attempt_at, n.error,
          n.recipients_done
        FROM notifications n JOIN notifier_digests d ON d.id = n.digest_id
        WHERE n.channel = ${channel} AND n.status = 'pending'
        ORDER BY n.created_at, n.digest_id LIMIT 1`;
      const r = rows[0];
      if (!r) return null;
      return {
        digest: r.digest,
        channel,
        attempts: r.attempts,
        partsSent: r.parts_sent,
        createdAt: r.created_at.getTime(),
        nextAttemptAt: r.next_attempt_at.getTime(),
        lastAttemptAt: r.last_attempt_at?.getTime() ?? null,
        lastError: r.error,
        recipientsDone: r.recipients_done,
      };
    },

    async setPartsSent(digestId, channel, partsSent) {
      await sql`UPDATE notifications SET parts_sent = ${partsSent}
        WHERE digest_id = ${digestId} AND channel = ${channel}`;
    },

    async recordAttempt(rec) {
      const at = new Date(rec.at);
      await sql.begin(async (tx) => {
        if (rec.attempted !== false) {
          await tx`INSERT INTO notification_attempts
            (digest_id, channel, attempt, at, ok, retryable, status_code, error, duration_ms)
            VALUES (${rec.digestId}, ${rec.channel}, ${rec.attempt}, ${at}, ${rec.ok},
              ${rec.retryable ?? null}, ${rec.statusCode ?? null}, ${rec.error ?? null},
              ${rec.durationMs})
            ON CONFLICT DO NOTHING`;
        }
        // Only a pending row changes: an attempt recorded late (a notifier that lost the lock
        // mid-send, after the one that took over recorded `sent`) turned `sent` back to
        // `pending`, and the digest was sent again.
        const updated = await tx`UPDATE notifications SET
            attempts = ${rec.attempt}, status = ${rec.status}, error = ${rec.error ?? null},
            last_attempt_at = ${at},
            sent_at = ${rec.status === "sent" ? at : null},
            next_attempt_at = ${new Date(rec.nextAttemptAt ?? rec.at)},
            recipients_done = recipients_done || ${tx.json(rec.recipients ?? {})}
          WHERE digest_id = ${rec.digestId} AND channel = ${rec.channel} AND status = 'pending'
          RETURNING 1`;
        if (updated.length === 0 || rec.status !== "sent") return;
        // Per-alert stages of this notification: the alert's own stages plus `notified`.
        await tx`UPDATE notifications n SET stages = COALESCE((
            SELECT jsonb_object_agg(a->>'id',
              COALESCE(a->'stages', '{}'::jsonb) || jsonb_build_object('notified', ${rec.at}::bigint))
            FROM notifier_digests d, jsonb_array_elements(d.digest->'alerts') a
            WHERE d.id = n.digest_id), '{}'::jsonb)
          WHERE n.digest_id = ${rec.digestId} AND n.channel = ${rec.channel}`;
        if (rec.alertIds.length) {
          // End-to-end latency for the web view; anomaly_events is the detector's table.
          await tx`UPDATE anomaly_events
            SET stages = stages || jsonb_build_object('notified', ${rec.at}::bigint)
            WHERE id = ANY(${rec.alertIds}) AND NOT (stages ? 'notified')`;
        }
      });
    },

    async undelivered() {
      const [row] = await sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM notifier_alerts a
        WHERE a.disposition = 'grouped' AND a.received_at > now() - interval '2 days' AND (
          (NOT EXISTS (SELECT 1 FROM notifier_digest_entries e WHERE e.stream_id = a.stream_id)
            -- taken in before retention's last cutoff: the digest that told it may be deleted
            AND a.received_at >= ${digestsKeptSince(sql)}
            -- acknowledged before a digest told it: quiet, it never will be
            AND NOT EXISTS (SELECT 1 FROM anomaly_events ev
              WHERE ev.id = a.alert_id AND ev.acknowledged_at IS NOT NULL))
          OR EXISTS (
            SELECT 1 FROM notifier_digest_entries e
            JOIN notifications n ON n.digest_id = e.digest_id
            WHERE e.stream_id = a.stream_id AND n.status = 'pending'))`;
      return row?.n ?? 0;
    },

    async acknowledged(alertIds) {
      if (alertIds.length === 0) return new Set();
      const rows = await sql<{ id: string }[]>`
        SELECT id FROM anomaly_events
        WHERE id = ANY(${alertIds as string[]}) AND acknowledged_at IS NOT NULL`;
      return new Set(rows.map((r) => r.id));
    },

    async alertsTakenIn({ fromMs, toMs, limit }) {
      const rows = await sql<{ alert: Alert; received_at: Date }[]>`
        SELECT alert, received_at FROM notifier_alerts
        WHERE received_at >= ${new Date(fromMs)} AND received_at < ${new Date(toMs)}
          AND disposition <> 'silenced'
        ORDER BY received_at DESC, stream_id DESC LIMIT ${limit + 1}`;
      const truncated = rows.length > limit;
      const alerts = rows.slice(0, limit).reverse().map((r) => ({
        at: r.received_at.getTime(),
        alert: r.alert,
      }));
      return { alerts, truncated };
    },

    async failUnconfigured(channels) {
      const rows = await sql<{ channel: string }[]>`UPDATE notifications
        SET status = 'failed', error = 'channel is not configured'
        WHERE status = 'pending' AND NOT (channel = ANY(${channels as string[]}))
        RETURNING channel`;
      return rows.map((r) => r.channel);
    },

    async listNotifications(filter) {
      const rows = await sql<
        (Omit<NotificationRow, "created_at" | "last_attempt_at" | "sent_at"> & {
          created_at: Date;
          last_attempt_at: Date | null;
          sent_at: Date | null;
        })[]
      >`SELECT digest_id, channel, alert_ids, alert_count, trace_ids, status, attempts,
          parts_sent, error, created_at, last_attempt_at, sent_at, stages
        FROM notifications
        WHERE (${filter.alert_id ?? null}::text IS NULL OR alert_ids @> ARRAY[${
        filter.alert_id ?? ""
      }]::text[])
          AND (${filter.digest_id ?? null}::text IS NULL OR digest_id = ${filter.digest_id ?? ""})
          AND (${filter.status ?? null}::text IS NULL OR status = ${filter.status ?? ""})
        ORDER BY created_at DESC, digest_id, channel LIMIT ${filter.limit}`;
      return rows.map((r) => ({
        ...r,
        created_at: r.created_at.toISOString(),
        last_attempt_at: r.last_attempt_at?.toISOString() ?? null,
        sent_at: r.sent_at?.toISOString() ?? null,
      }));
    },
  };
}
