import assert from "node:assert/strict";
import type { Sql } from "@vigil/tools/testing/pg";
import { summarizeNotifications } from "../notification_summary.ts";
import { notificationFigures } from "../store.ts";
import { getJson, insertAnomalies, withWebApp } from "./_helpers.ts";
import { silentLogger } from "@vigil/tools/testing/log";
import { Registry } from "@vigil/shared/metrics";
import { createRetentionMetrics, runRetention } from "@vigil/shared/retention/run";

const opts = { sanitizeOps: false, sanitizeResources: false };
const T0 = Date.parse("2025-03-01T12:00:00Z");
const FROM = T0 - 3_600_000;
const at = (ms: number) => new Date(ms);

/** A digest of `route` planned at `createdMs` for `channels` (status, sent time). */
async function digest(
  sql: Sql,
  d: {
    id: string;
    route: string;
    kind?: string;
    createdMs: number;
    alerts: string[];
    channels: { channel: string; status: string; sentMs?: number }[];
    streamIds?: string[];
  },
): Promise<void> {
  await sql`INSERT INTO notifier_digests (id, kind, route, group_key, created_at, alert_ids, digest)
    VALUES (${d.id}, ${d.kind ?? "digest"}, ${d.route}, ${`${d.route}|type=metrics`},
      ${at(d.createdMs)}, ${d.alerts}, ${sql.json({ id: d.id })})`;
  for (const c of d.channels) {
    await sql`INSERT INTO notifications
      (digest_id, channel, alert_ids, alert_count, status, created_at, sent_at)
      VALUES (${d.id}, ${c.channel}, ${d.alerts}, ${d.alerts.length}, ${c.status},
        ${at(d.createdMs)}, ${c.sentMs === undefined ? null : at(c.sentMs)})`;
  }
  for (const s of d.streamIds ?? []) {
    await sql`INSERT INTO notifier_digest_entries (stream_id, digest_id) VALUES (${s}, ${d.id})`;
  }
}

/** An alert the notifier took in at `receivedMs`. */
async function intake(
  sql: Sql,
  a: { streamId: string; receivedMs: number; disposition: string; route?: string },
): Promise<void> {
  await sql`INSERT INTO notifier_alerts
    (stream_id, alert_id, status, type, rule, severity, entity, alert, disposition, group_key,
      received_at)
    VALUES (${a.streamId}, ${`al-${a.streamId}`}, 'firing', 'metrics', 'cpu', 'WARNING', 'svc',
      ${sql.json({})}, ${a.disposition}, ${a.route ? `${a.route}|type=metrics` : null},
      ${at(a.receivedMs)})`;
}

Deno.test(
  "notificationFigures() counts what the notifier's tables say was sent or planned in the window",
  opts,
  async () => {
    await withWebApp(async ({ sql }) => {
      // In the window: default route, email+discord; one sent each, one pending on discord.
      await digest(sql, {
        id: "d1",
        route: "default",
        createdMs: T0 - 50 * 60_000,
        alerts: ["a1", "a2", "a3"],
        channels: [
          { channel: "email", status: "sent", sentMs: T0 - 49 * 60_000 },
          { channel: "discord", status: "pending" },
        ],
        streamIds: ["1-1", "1-2", "1-3"],
      });
      await digest(sql, {
        id: "d2",
        route: "payments",
        kind: "immediate",
        createdMs: T0 - 10 * 60_000,
        alerts: ["a4"],
        channels: [{ channel: "email", status: "failed" }],
        streamIds: ["1-4"],
      });
      await digest(sql, {
        id: "d3",
        route: "default",
        kind: "repeat",
        createdMs: T0 - 5 * 60_000,
        alerts: ["a1", "a2"],
        channels: [{ channel: "email", status: "sent", sentMs: T0 - 4 * 60_000 }],
      });
      // Planned before the window and sent within it (after an outage): sent, not planned.
      await digest(sql, {
        id: "d0",
        route: "default",
        createdMs: T0 - 2 * 3_600_000,
        alerts: ["a0"],
        channels: [{ channel: "email", status: "sent", sentMs: T0 - 30 * 60_000 }],
      });
      // Before the window and still pending: counted as pending (backlog), nothing else.
      await digest(sql, {
        id: "dp",
        route: "payments",
        createdMs: T0 - 3 * 3_600_000,
        alerts: ["ap"],
        channels: [{ channel: "discord", status: "pending" }],
      });
      // Entirely before the window, and entirely after: not counted.
      await digest(sql, {
        id: "old",
        route: "default",
        createdMs: T0 - 5 * 3_600_000,
        alerts: ["x"],
        channels: [{ channel: "email", status: "sent", sentMs: T0 - 5 * 3_600_000 }],
      });
      await digest(sql, {
        id: "late",
        route: "default",
        createdMs: T0 + 60_000,
        alerts: ["y"],
        channels: [{ channel: "email", status: "sent", sentMs: T0 + 61_000 }],
      });
      // Intake of the window: 4 in digests, 2 grouped still waiting (default, payments), 1
      // silenced; one alert before the window.
      for (const [i, s] of ["1-1", "1-2", "1-3", "1-4"].entries()) {
        await intake(sql, {
          streamId: s,
          receivedMs: T0 - 55 * 60_000 + i,
          disposition: "grouped",
          route: i === 3 ? "payments" : "default",
        });
      }
      await intake(sql, {
        streamId: "2-1",
        receivedMs: T0 - 60_000,
        disposition: "grouped",
        route: "default",
      });
      await intake(sql, {
        streamId: "2-2",
        receivedMs: T0 - 30_000,
        disposition: "grouped",
        route: "payments",
      });
      await intake(sql, { streamId: "2-3", receivedMs: T0 - 20_000, disposition: "silenced" });
      await intake(sql, {
        streamId: "0-1",
        receivedMs: T0 - 2 * 3_600_000,
        disposition: "grouped",
        route: "default",
      });

      const figures = await notificationFigures(sql, { fromMs: FROM, toMs: T0 });
      const s = summarizeNotifications(figures, { fromMs: FROM, toMs: T0 });
      assert.deepEqual(s.routes, [
        {
          route: "payments",
          digests: 1,
          digests_by_kind: { immediate: 1 },
          alerts_in_digests: 1,
          waiting_alerts: 1,
          channels: [
            { channel: "discord", planned: 0, sent: 0, pending: 1, failed: 0, alerts_sent: 0 },
            { channel: "email", planned: 1, sent: 0, pending: 0, failed: 1, alerts_sent: 0 },
          ],
        },
        {
          route: "default",
          digests: 2,
          digests_by_kind: { digest: 1, repeat: 1 },
          alerts_in_digests: 5,
          waiting_alerts: 1,
          channels: [
            { channel: "discord", planned: 1, sent: 0, pending: 1, failed: 0, alerts_sent: 0 },
            { channel: "email", planned: 2, sent: 3, pending: 0, failed: 0, alerts_sent: 6 },
          ],
        },
      ]);
      assert.deepEqual(s.totals, {
        planned: 4,
        sent: 3,
        pending: 2,
        failed: 1,
        alerts_sent: 6,
        digests: 3,
        waiting_alerts: 2,
      });
      assert.deepEqual(s.intake, { alerts: 7, by_disposition: { grouped: 6, silenced: 1 } });
    });
  },
);

Deno.test(
  "GET /api/notifications/summary answers the last hour from the tables",
  opts,
  async () => {
    await withWebApp(async ({ app, sql }) => {
      const now = Date.now();
      await digest(sql, {
        id: "n1",
        route: "default",
        createdMs: now - 120_000,
        alerts: ["a1", "a2"],
        channels: [{ channel: "email", status: "sent", sentMs: now - 110_000 }],
      });
      await digest(sql, {
        id: "n2",
        route: "default",
        createdMs: now - 2 * 3_600_000,
        alerts: ["a3"],
        channels: [{ channel: "email", status: "sent", sentMs: now - 2 * 3_600_000 }],
      });
      const hour = await getJson(app, "/api/notifications/summary");
      assert.equal(hour.status, 200);
      assert.deepEqual(hour.body.totals, {
        planned: 1,
        sent: 1,
        pending: 0,
        failed: 0,
        alerts_sent: 2,
        digests: 1,
        waiting_alerts: 0,
      });
      const day = await getJson(app, "/api/notifications/summary?window=24h");
      assert.equal((day.body.totals as { sent: number }).sent, 2);
    });
  },
);

Deno.test(
  "an alert acknowledged before its group's digest is not counted as waiting for it",
  opts,
  async () => {
    await withWebApp(async ({ sql }) => {
      // The notifier keeps an acknowledged alert out of digests (quiet): no digest will carry it.
      await intake(sql, {
        streamId: "3-1",
        receivedMs: T0 - 10 * 60_000,
        disposition: "grouped",
        route: "default",
      });
      await intake(sql, {
        streamId: "3-2",
        receivedMs: T0 - 5 * 60_000,
        disposition: "grouped",
        route: "default",
      });
      await insertAnomalies(sql, [{
        id: "al-3-1",
        detected_at: at(T0 - 10 * 60_000),
        acknowledged_at: at(T0 - 9 * 60_000),
      }, { id: "al-3-2", detected_at: at(T0 - 5 * 60_000) }]);
      const figures = await notificationFigures(sql, { fromMs: FROM, toMs: T0 });
      const s = summarizeNotifications(figures, { fromMs: FROM, toMs: T0 });
      assert.equal(s.totals.waiting_alerts, 1, "only the unacknowledged one waits");
      assert.deepEqual(s.routes.map((r) => [r.route, r.waiting_alerts]), [["default", 1]]);
    });
  },
);

Deno.test(
  "an alert whose digest retention deleted is not counted as waiting for one",
  opts,
  async () => {
    await withWebApp(async ({ sql }) => {
      const now = Date.now();
      const from = now - 24 * 3_600_000;
      // Taken in 20 h ago and told by a digest at once; RETENTION_NOTIFICATIONS=1h deleted it.
      await intake(sql, {
        streamId: "4-1",
        receivedMs: now - 20 * 3_600_000,
        disposition: "grouped",
        route: "default",
      });
      await digest(sql, {
        id: "d-old",
        route: "default",
        createdMs: now - 20 * 3_600_000 + 1000,
        alerts: ["al-4-1"],
        channels: [{ channel: "email", status: "sent", sentMs: now - 20 * 3_600_000 + 2000 }],
        streamIds: ["4-1"],
      });
      // Taken in a minute ago, in no digest yet: waiting.
      await intake(sql, {
        streamId: "4-2",
        receivedMs: now - 60_000,
        disposition: "grouped",
        route: "default",
      });
      const registry = new Registry();
      await runRetention(
        { sql, log: silentLogger(), metrics: createRetentionMetrics(registry), now: Date.now },
        {
          ages: {
            anomaly_events: 0,
            notifier_digests: 3_600_000,
            notification_attempts: 0,
            notifier_alerts: 0,
            silences: 0,
          },
          batchSize: 100,
          maxBatches: 10,
        },
      );
      const [left] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM notifier_digests`;
      assert.equal(left?.n, 0, "retention deleted the digest");
      const figures = await notificationFigures(sql, { fromMs: from, toMs: now });
      const s = summarizeNotifications(figures, { fromMs: from, toMs: now });
      assert.equal(s.totals.waiting_alerts, 1, "only the one taken in since waits");
    });
  },
);
