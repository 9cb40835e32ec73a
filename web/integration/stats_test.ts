/**
 * `GET /api/stats` buckets are UTC minutes and hours, whatever time zone the
 * PostgreSQL server (or its session) runs in: `initdb` sets the server's zone
 * to the machine's, and `date_trunc` on a timestamptz truncates in it.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { heartbeatStats } from "../store.ts";
import { getJson, insertAnomalies, withWebApp } from "./_helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const T0 = Date.parse("2025-03-01T10:00:00Z");

Deno.test(
  "GET /api/stats: hour buckets start on UTC hours with PostgreSQL in Asia/Kolkata",
  opts,
  async () => {
    let appSql: postgres.Sql | undefined;
    try {
      await withWebApp(async ({ app, sql }) => {
        await insertAnomalies(sql, [
          { id: "h-1", detected_at: new Date(T0 + 10 * 60_000) },
          { id: "h-2", detected_at: new Date(T0 + 40 * 60_000) },
          { id: "h-3", detected_at: new Date(T0 + 70 * 60_000) },
        ]);
        const [row] = await appSql!`SELECT current_setting('TimeZone') AS zone`;
        assert.equal(row?.zone, "Asia/Kolkata");
        const { status, body } = await getJson(
          app,
          `/api/stats?bucket=hour&from=${T0}&to=${T0 + 2 * 3_600_000}`,
        );
        assert.equal(status, 200);
        assert.deepEqual(
          (body.points as { t: string; count: number }[]).map((p) => [p.t, p.count]),
          [["2025-03-01T10:00:00.000Z", 2], ["2025-03-01T11:00:00.000Z", 1]],
        );
      }, {
        appSql: (url) =>
          appSql = postgres(url, {
            max: 2,
            onnotice: () => {},
            connection: { TimeZone: "Asia/Kolkata" },
          }),
      });
    } finally {
      await appSql?.end({ timeout: 1 });
    }
  },
);

Deno.test(
  "GET /api/stats: a `to` in the first hour of year 1 answers, not 500 (the default from)",
  opts,
  async () => {
    await withWebApp(async ({ app }) => {
      // The default `from` (an hour before `to`) fell in year 0, which PostgreSQL refuses.
      const early = await getJson(app, "/api/stats?to=0001-01-01T00:30:00Z");
      assert.equal(early.status, 200, JSON.stringify(early.body));
      assert.equal(early.body.from, "0001-01-01T00:00:00.000Z");
      const first = await getJson(app, "/api/stats?to=0001-01-01T00:00:00Z");
      assert.equal(first.status, 400);
      assert.match(first.body.error as string, /from: from must be before to/);
    });
  },
);

Deno.test(
  "heartbeatStats(): the last hour's anomalies by severity and how many are open, newer ones included",
  opts,
  async () => {
    await withWebApp(async ({ sql }) => {
      const now = Date.now();
      await insertAnomalies(sql, [
        { id: "b-old", detected_at: new Date(now - 2 * 3_600_000), severity: "CRITICAL" },
        { id: "b-1", detected_at: new Date(now - 50 * 60_000), severity: "CRITICAL" },
        {
          id: "b-2",
          detected_at: new Date(now - 5 * 60_000),
          severity: "WARNING",
          resolved_at: new Date(now),
        },
        // Detected after the web's clock reads `now` (clocks apart): still the last hour's.
        { id: "b-3", detected_at: new Date(now + 60_000), severity: "WARNING" },
      ]);
      assert.deepEqual(await heartbeatStats(sql, now), {
        last_hour: { INFO: 0, WARNING: 2, CRITICAL: 1 },
        open_last_hour: 2,
      });
    });
  },
);
