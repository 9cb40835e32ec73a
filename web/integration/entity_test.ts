import assert from "node:assert/strict";
import { getJson, insertAnomalies, withWebApp } from "./_helpers.ts";
import { readSeries, type SeriesRedis } from "../series.ts";
import { interceptCalls } from "@vigil/tools/testing/redis";

const opts = { sanitizeOps: false, sanitizeResources: false };
const T0 = Date.parse("2025-03-01T12:00:00Z");

type Body = {
  entity: string;
  types: string[];
  state: Record<string, unknown>;
  anomalies: { id: string }[];
  series: { type: string; measure: string; points: Record<string, number | null>[] }[];
};

Deno.test(
  "GET /api/entities/:entity answers its state, recent anomalies and cached series with bands",
  opts,
  async () => {
    await withWebApp(async ({ app, sql, redis, keys }) => {
      await insertAnomalies(sql, [
        { id: "m1", detected_at: new Date(T0 - 600_000), type: "metrics", entity: "checkout" },
        {
          id: "m2",
          detected_at: new Date(T0 - 300_000),
          event_time: new Date(T0 - 301_000),
          type: "metrics",
          entity: "checkout",
          resolved_at: new Date(T0 - 200_000),
        },
        {
          id: "l1",
          detected_at: new Date(T0 - 100_000),
          event_time: new Date(T0 - 101_000),
          type: "logs",
          entity: "checkout",
          resolved_at: new Date(T0 - 50_000),
        },
        { id: "other", detected_at: new Date(T0), entity: "search" },
      ]);
      // Colon members with and without a band, a JSON member with a band, one malformed band.
      await redis.sadd(keys.scoreMeasures("metrics"), "latency_ms", "cpu", "memory");
      await redis.zadd(
        keys.scores("metrics", "checkout", "latency_ms"),
        T0 - 2000,
        `${T0 - 2000}:0.1:310:250:400`,
        T0 - 1000,
        `${T0 - 1000}:0.95:900:260:410`,
        T0,
        `${T0}:0.2:320`,
      );
      await redis.zadd(
        keys.scores("metrics", "checkout", "cpu"),
        T0 - 500,
        JSON.stringify({ ts: T0 - 500, value: 0.4, score: 0.1, low: 0.2, high: 0.6 }),
        T0 + 5000,
        `${T0 + 5000}:0.1:0.5:0.9:0.1`, // low > high: the band is dropped, the point kept
      );
      const r = await getJson(app, "/api/entities/checkout");
      assert.equal(r.status, 200);
      const body = r.body as unknown as Body;
      assert.equal(body.entity, "checkout");
      assert.deepEqual(body.types, ["logs", "metrics"]);
      assert.deepEqual(body.state, {
        status: "firing",
        anomalies: 3,
        open: 1,
        last_anomaly_at: new Date(T0 - 100_000).toISOString(),
        last_seen_at: new Date(T0 + 5000).toISOString(),
      });
      assert.deepEqual(body.anomalies.map((a) => a.id), ["l1", "m2", "m1"]);
      assert.deepEqual(body.series, [
        {
          type: "metrics",
          measure: "cpu",
          points: [
            { ts: T0 - 500, value: 0.4, score: 0.1, low: 0.2, high: 0.6 },
            { ts: T0 + 5000, value: 0.5, score: 0.1 },
          ],
          skipped: 0,
        },
        {
          type: "metrics",
          measure: "latency_ms",
          points: [
            { ts: T0 - 2000, value: 310, score: 0.1, low: 250, high: 400 },
            { ts: T0 - 1000, value: 900, score: 0.95, low: 260, high: 410 },
            { ts: T0, value: 320, score: 0.2 },
          ],
          skipped: 0,
        },
      ]);

      // One type only: its anomalies and state.
      const logs = (await getJson(app, "/api/entities/checkout?type=logs")).body as unknown as Body;
      assert.deepEqual(logs.anomalies.map((a) => a.id), ["l1"]);
      assert.equal(logs.state.status, "resolved");
      assert.deepEqual(logs.series, []);
      // Narrowed to one type, the page still learns the others (its links back to them).
      assert.deepEqual(logs.types, ["logs", "metrics"]);
      const metrics = (await getJson(app, "/api/entities/checkout?type=metrics"))
        .body as unknown as Body;
      assert.deepEqual(metrics.types, ["logs", "metrics"]);
      assert.equal(metrics.series.length, 2);

      // Unknown entity: quiet, nothing listed.
      const none = await getJson(app, "/api/entities/nobody");
      assert.equal(none.status, 200);
      assert.deepEqual((none.body as unknown as Body).state, {
        status: "quiet",
        anomalies: 0,
        open: 0,
        last_anomaly_at: null,
        last_seen_at: null,
      });

      const limited = await getJson(app, "/api/entities/checkout?limit=1");
      assert.deepEqual((limited.body as unknown as Body).anomalies.map((a) => a.id), ["l1"]);
      for (const q of ["type=bogus", "limit=0", "points=5000", "extra=1"]) {
        const bad = await getJson(app, `/api/entities/checkout?${q}`);
        assert.equal(bad.status, 400, q);
        assert.match(bad.body.error as string, /^Cannot read query: /);
      }
    });
  },
);

Deno.test(
  "GET /api/entities/:entity takes entities with slashes, spaces and markup",
  opts,
  async () => {
    await withWebApp(async ({ app, sql }) => {
      const entity = "team a/<b>checkout?x";
      await insertAnomalies(sql, [{ id: "w1", detected_at: new Date(T0), entity }]);
      const r = await getJson(app, `/api/entities/${encodeURIComponent(entity)}`);
      assert.equal(r.status, 200);
      assert.equal(r.body.entity, entity);
      assert.deepEqual((r.body as unknown as Body).anomalies.map((a) => a.id), ["w1"]);
      const page = await app.request(`/entities/${encodeURIComponent(entity)}`);
      assert.equal(page.status, 404, "no page without assets"); // API-only app
    });
  },
);

Deno.test(
  "GET /api/entities/:entity, /api/series and /api/anomalies/:id refuse a name with a bidirectional or invisible character",
  opts,
  async () => {
    await withWebApp(async ({ app }) => {
      // No event, silence or acknowledgement can carry such a name (the bridge refuses it), but a
      // crafted link could: /entities/%E2%80%AEevil showed an entity "live" with "No anomalies".
      for (
        const [name, message] of [
          ["\u202eevil", "bidirectional control U+202E at position 0 is not allowed"],
          ["pay\u200bment", "invisible character U+200B at position 3 is not allowed"],
          ["a\u2028b", "U+2028 at position 1 is not allowed"],
        ] as const
      ) {
        // No anomaly id holds one either (hashes, or a dispatch's printable ASCII "id"): the 404
        // quoted it raw, "Cannot find anomaly" then shown reversed.
        for (
          const [path, field] of [
            [`/api/entities/${encodeURIComponent(name)}`, "entity"],
            [`/api/series/metrics/${encodeURIComponent(name)}`, "entity"],
            [`/api/anomalies/${encodeURIComponent(name)}`, "id"],
          ] as const
        ) {
          const r = await getJson(app, path);
          assert.equal(r.status, 400, path);
          const error = String(r.body.error);
          assert.ok(
            error.startsWith(`Cannot read path: ${field}: `) && error.endsWith(message),
            error,
          );
        }
      }
    });
  },
);

Deno.test(
  "an entity's series are found without a SCAN of the keys, from the measures the detector wrote",
  opts,
  async () => {
    await withWebApp(async ({ redis, keys }) => {
      // Before: a SCAN of every key, up to 200 rounds per type (with 300,000 series one entity
      // page cost Redis about 3 s, for anyone who could open it).
      const commands: string[] = [];
      const recording = interceptCalls(redis, (name) => commands.push(name.toLowerCase()));
      await redis.sadd(keys.scoreMeasures("metrics"), "cpu", "memory");
      await redis.zadd(keys.scores("metrics", "checkout", "cpu"), T0, `${T0}:0.1:0.5`);
      for (let i = 0; i < 50; i++) {
        await redis.zadd(keys.scores("metrics", `svc-${i}`, "cpu"), T0, `${T0}:0.1:0.5`);
      }
      const series = await readSeries(recording as unknown as SeriesRedis, {
        keys,
        type: "metrics",
        entity: "checkout",
        limit: 10,
      });
      assert.deepEqual(series.map((s) => s.measure), ["cpu"], "memory: no series for checkout");
      assert.ok(!commands.some((c) => c.startsWith("scan")), `commands: ${commands.join(",")}`);
    });
  },
);
