import assert from "node:assert/strict";
import type { z } from "zod";
import * as api from "../api_responses.ts";
import { openApiPath } from "../openapi.ts";
import { loadStaticAssets } from "../static.ts";
import { retentionStatusSchema } from "../api_responses.ts";
import { getJson, insertAnomalies, withWebApp } from "./_helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const TOKEN = "test-token-0123456789";
const AUTH = { authorization: `Bearer ${TOKEN}` };

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>>;
};

Deno.test(
  "GET /api/openapi.json lists every route registered on the app, and only those",
  opts,
  async () => {
    const assets = await loadStaticAssets();
    await withWebApp(async ({ app }) => {
      const registered = new Set(
        app.routes.filter((r) => r.method !== "ALL").map((r) =>
          `${r.method} ${openApiPath(r.path)}`
        ),
      );
      const res = await app.request("/api/openapi.json");
      assert.equal(res.status, 200);
      const doc = await res.json() as Doc;
      assert.equal(doc.openapi, "3.1.0");
      const documented = new Set(
        Object.entries(doc.paths).flatMap(([path, item]) =>
          Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`)
        ),
      );
      assert.deepEqual(
        [...registered].filter((r) => !documented.has(r)),
        [],
        "registered but not documented",
      );
      assert.deepEqual(
        [...documented].filter((r) => !registered.has(r)),
        [],
        "documented but not registered",
      );
      assert.ok(documented.size >= 20, `${documented.size} routes`);
      // Every path parameter is declared, and only those.
      for (const [path, item] of Object.entries(doc.paths)) {
        const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
        for (const [method, op] of Object.entries(item)) {
          const declared = (op.parameters ?? []).filter((p) => p.in === "path").map((p) => p.name)
            .sort();
          assert.deepEqual(declared, names, `${method} ${path}`);
        }
      }
      // The documented query of the list is the schema the route validates with.
      const list = doc.paths["/api/anomalies"]!.get!.parameters!.map((p) => p.name);
      assert.deepEqual(list, [
        "type",
        "severity",
        "rule",
        "entity",
        "from",
        "to",
        "resolved",
        "acknowledged",
        "limit",
        "cursor",
      ]);
      // Open even when reads need the token; so is the readable page.
      const docs = await app.request("/api/docs");
      assert.equal(docs.status, 200);
      assert.match(docs.headers.get("content-type") ?? "", /text\/html/);
    }, { assets, token: TOKEN, publicRead: false });
  },
);

Deno.test("the documented answer schemas accept the routes' real answers", opts, async () => {
  const now = Date.now();
  await withWebApp(async ({ app, sql, redis, keys }) => {
    await insertAnomalies(sql, [
      {
        id: "a1",
        detected_at: new Date(now - 60_000),
        entity: "checkout",
        details: { measure: "latency_ms", value: 900 },
        evidence: [{
          stream: keys.events("metrics"),
          stream_id: "1-0",
          topic: "metrics",
          partition: 0,
          offset: "5",
        }],
      },
      {
        id: "a2",
        detected_at: new Date(now - 30_000),
        entity: "checkout",
        resolved_at: new Date(),
      },
    ]);
    await redis.sadd(keys.scoreMeasures("metrics"), "latency_ms"); // as the detector writes it
    await redis.zadd(
      keys.scores("metrics", "checkout", "latency_ms"),
      now,
      `${now}:0.9:900:100:400`,
    );
    const check = async (schema: z.ZodType, path: string, init?: RequestInit) => {
      const res = await app.request(path, init);
      const body = await res.json();
      const parsed = schema.safeParse(body);
      assert.ok(
        parsed.success,
        `${path}: ${JSON.stringify(parsed.error?.issues)} in ${JSON.stringify(body).slice(0, 400)}`,
      );
      return { status: res.status, body };
    };
    const post = (body: unknown, method = "POST"): RequestInit => ({
      method,
      headers: { ...AUTH, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    await check(api.anomalyPageSchema, "/api/anomalies?limit=1");
    await check(api.anomalyDetailSchema, "/api/anomalies/a1");
    await check(api.ackResponseSchema, "/api/anomalies/a1/ack", post({ by: "ann" }));
    const again = await check(api.ackConflictSchema, "/api/anomalies/a1/ack", post({ by: "bo" }));
    assert.equal(again.status, 409);
    await check(api.statsResponseSchema, "/api/stats");
    const series = await check(api.seriesResponseSchema, "/api/series/metrics/checkout");
    assert.deepEqual(series.body.series[0].points, [
      { ts: now, value: 900, score: 0.9, low: 100, high: 400 },
    ]);
    await check(api.entityResponseSchema, "/api/entities/checkout");
    await check(api.notificationSummarySchema, "/api/notifications/summary");
    const created = await check(
      api.silenceResponseSchema,
      "/api/silences",
      post({ matchers: { rule: "threshold" }, duration: "1h", author: "ann" }),
    );
    assert.equal(created.status, 201);
    await check(api.silenceListSchema, "/api/silences");
    await check(
      api.silenceResponseSchema,
      `/api/silences/${created.body.silence.id}`,
      { method: "DELETE", headers: AUTH },
    );
    await check(api.healthResponseSchema, "/health");
    await check(retentionStatusSchema, "/api/system/retention");
    const bad = await check(api.errorResponseSchema, "/api/notifications/summary?window=2d");
    assert.equal(bad.status, 400);
  }, { token: TOKEN });
});

Deno.test(
  "GET /api/notifications/summary refuses bad windows with the field named",
  opts,
  async () => {
    await withWebApp(async ({ app }) => {
      for (
        const [q, message] of [
          ["window=2d", /window: must be minutes or hours/],
          ["window=25h", /window: must be at most 24h/],
          ["window=0m", /window: must be at least 1m/],
          ["other=1", /Cannot read query/],
        ] as const
      ) {
        const r = await getJson(app, `/api/notifications/summary?${q}`);
        assert.equal(r.status, 400, q);
        assert.match(r.body.error as string, message);
      }
      const ok = await getJson(app, "/api/notifications/summary?window=30m");
      assert.equal(ok.body.window_ms, 1_800_000);
    });
  },
);

Deno.test(
  "every API route that reads or writes PostgreSQL or Redis documents its 503 (Retry-After)",
  opts,
  async () => {
    const { webOpenApiDocument } = await import("../api_routes.ts");
    const doc = webOpenApiDocument() as {
      paths: Record<string, Record<string, { responses: Record<string, { description: string }> }>>;
    };
    const missing: string[] = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      if (!path.startsWith("/api/") || path === "/api/openapi.json" || path === "/api/docs") {
        continue;
      }
      if (path === "/api/health") continue;
      for (const [method, op] of Object.entries(item)) {
        const answer = op.responses["503"]?.description ?? "";
        if (!/Retry-After|database|notifier|detector|live clients/i.test(answer)) {
          missing.push(`${method.toUpperCase()} ${path}: ${answer || "no 503"}`);
        }
      }
    }
    assert.deepEqual(missing, []);
  },
);

Deno.test(
  "every API route that refuses a query name it does not take documents that 400",
  opts,
  async () => {
    const { webOpenApiDocument } = await import("../api_routes.ts");
    const doc = webOpenApiDocument() as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    await withWebApp(async ({ app, sql, hub }) => {
      await insertAnomalies(sql, [{ id: "q1", detected_at: new Date() }]);
      const undocumented: string[] = [];
      for (const [path, item] of Object.entries(doc.paths)) {
        if (!path.startsWith("/api/")) continue;
        const url = path.replace("{id}", "q1").replace("{type}", "logs")
          .replace("{entity}", "checkout");
        for (const [method, op] of Object.entries(item)) {
          const res = await app.request(`${url}?not_a_parameter=1`, {
            method: method.toUpperCase(),
            headers: AUTH,
          });
          await res.body?.cancel();
          if (res.status === 400 && !op.responses["400"]) {
            undocumented.push(`${method.toUpperCase()} ${path}`);
          }
        }
      }
      // `/api/live?type=logs` answers 400 (it takes no query), which its document did not list.
      assert.deepEqual(undocumented, []);
      assert.equal(hub.size, 0);
    }, { token: TOKEN });
  },
);
