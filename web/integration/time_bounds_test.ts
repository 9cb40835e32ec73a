/**
 * `from` (inclusive) and `to` (exclusive) of `/api/anomalies`, `/api/stats` and `/api/series`
 * against rows detected at microseconds (`now()` of a batch): a bound finer than a millisecond
 * was cut to the millisecond, so `from=…00.000500Z` listed a row of `…00.000200Z` (before it) and
 * `to=…00.000500Z` left it out (it is before `to`). Such a bound is refused now, with why.
 */
import assert from "node:assert/strict";
import { getJson, withWebApp } from "./_helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "from/to: millisecond bounds are exact against a row at microseconds; finer ones answer 400",
  opts,
  async () => {
    await withWebApp(async ({ app, sql }) => {
      await sql`
        INSERT INTO anomaly_events
          (id, detected_at, event_time, type, rule, severity, entity, title, message)
        VALUES ('us', '2025-03-01T10:00:00.000200Z', '2025-03-01T10:00:00Z', 'logs', 'r',
          'INFO', 'e', 't', 'm')`;
      const ids = async (query: string) => {
        const { status, body } = await getJson(app, `/api/anomalies?${query}`);
        assert.equal(status, 200, JSON.stringify(body));
        return (body.items as { id: string }[]).map((a) => a.id);
      };
      assert.deepEqual(await ids("from=2025-03-01T10:00:00.000Z"), ["us"]);
      assert.deepEqual(await ids("from=2025-03-01T10:00:00.001Z"), []);
      assert.deepEqual(await ids("to=2025-03-01T10:00:00.000Z"), []);
      assert.deepEqual(await ids("to=2025-03-01T10:00:00.001Z"), ["us"]);
      assert.deepEqual(await ids("from=2025-03-01T10:00:00.000000Z"), ["us"]);
      for (
        const path of [
          "/api/anomalies?from=2025-03-01T10:00:00.000500Z",
          "/api/anomalies?to=2025-03-01T10:00:00.000500Z",
          "/api/stats?from=2025-03-01T10:00:00.000500Z&to=2025-03-01T11:00:00Z",
          "/api/series/logs/e?to=2025-03-01T10:00:00.0005%2B01:00",
        ]
      ) {
        const { status, body } = await getJson(app, path);
        assert.equal(status, 400, path);
        assert.match(body.error as string, /: must be to the millisecond at most/, path);
      }
      // The stats' own check says what the other routes and the docs say.
      const same = await getJson(
        app,
        "/api/stats?from=2025-03-01T10:00:00Z&to=2025-03-01T10:00:00Z",
      );
      assert.equal(same.status, 400);
      assert.equal(same.body.error, "Cannot read query: from: from must be before to");
    });
  },
);
