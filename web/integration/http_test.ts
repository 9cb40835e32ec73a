/**
 * The web's HTTP hardening: ops endpoints at /health and /api/health, body
 * limit, control characters in URLs and NUL in bodies, in process and over a
 * real socket through the request-head guard.
 */
import assert from "node:assert/strict";
import { serve } from "@vigil/shared/http/serve";
import { silentLogger } from "@vigil/tools/testing/log";
import type { Sql } from "@vigil/tools/testing/pg";
import { loadStaticAssets } from "../static.ts";
import { getJson, insertAnomalies, sendJson, withWebApp } from "./_helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const TOKEN = "test-token-0123456789";
const AUTH = { authorization: `Bearer ${TOKEN}` };

/** A 1 MB body streamed in 1 KiB chunks; `pulled()` says how much the server read. */
function megabyte() {
  let pulled = 0;
  const chunk = new Uint8Array(1024).fill(32);
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled >= 1024 * 1024) return controller.close();
      pulled += chunk.length;
      controller.enqueue(chunk);
    },
  });
  return { body, pulled: () => pulled };
}

Deno.test(
  "the web serves the same health report at /health, /healthz and /api/health",
  opts,
  async () => {
    await withWebApp(async ({ app }) => {
      const bodies = [];
      for (const path of ["/health", "/healthz", "/api/health"]) {
        const r = await getJson(app, path);
        assert.equal(r.status, 200, path);
        assert.match(r.res.headers.get("x-frame-options") ?? "", /DENY/, "security headers");
        bodies.push(r.body);
      }
      assert.deepEqual(bodies[0], {
        status: "ok",
        ok: true,
        checks: { redis: "ok", postgres: "ok", live: "ok" },
        details: {},
        live_clients: 0,
      });
      assert.deepEqual(bodies[1], bodies[0]);
      assert.deepEqual(bodies[2], bodies[0]);
      const metrics = await app.request("/metrics");
      assert.match(metrics.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
      assert.match(
        await metrics.text(),
        /vigil_web_http_requests_total\{route="\/health",status="200"\} 1/,
      );
    }, { token: TOKEN, publicRead: false });
  },
);

Deno.test(
  "a browser that opens a wrong address gets a page with a way back, the API keeps JSON",
  opts,
  async () => {
    await withWebApp(async ({ app }) => {
      const html = { accept: "text/html,application/xhtml+xml,*/*;q=0.8" };
      for (
        const [path, status, message] of [
          ["/nope", 404, "Not found"],
          ["/alerts/%ZZ", 400, "Cannot read path: malformed percent-encoding or not UTF-8"],
          ["/entities/a%00b", 400, "Cannot read path: must not contain control characters"],
        ] as const
      ) {
        const res = await app.request(path, { headers: html });
        assert.equal(res.status, status, path);
        assert.match(res.headers.get("content-type") ?? "", /^text\/html; charset=utf-8$/i, path);
        assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'self'/);
        const text = await res.text();
        assert.ok(text.includes(`<h1>${message}</h1>`), text);
        assert.ok(text.includes('<a href="/">Back to the live view</a>'), text);
        assert.equal(res.headers.get("vary"), "Accept", path);
      }
      // Before: every one of them answered the API's {"error": …} to the browser.
      for (const [path, headers] of [["/api/nope", html], ["/nope", {}]] as const) {
        const res = await app.request(path, { headers });
        assert.equal(res.status, 404, path);
        assert.deepEqual(await res.json(), { error: "Not found" }, path);
        // The page's address answers by Accept: a cache keeps both forms apart.
        assert.equal(res.headers.get("vary"), path === "/nope" ? "Accept" : null, path);
      }
      // A client that takes no HTML (q=0) or prefers JSON gets the JSON error (RFC 9110 12.4.2).
      for (const accept of ["text/html;q=0", "application/json, text/html;q=0.5", "*/*"]) {
        const res = await app.request("/nope", { headers: { accept } });
        assert.equal(res.status, 404, accept);
        assert.deepEqual(await res.json(), { error: "Not found" }, accept);
      }
    });
  },
);

Deno.test("the web answers a wrong method on a served path 405 with Allow", opts, async () => {
  await withWebApp(async ({ app }) => {
    for (
      const [method, path, allow] of [
        ["POST", "/health", "GET, HEAD"],
        ["PUT", "/api/anomalies", "GET, HEAD"],
        ["DELETE", "/api/stats", "GET, HEAD"],
        ["PATCH", "/api/silences", "GET, HEAD, POST"],
        ["GET", "/api/anomalies/k1/ack", "POST"],
        ["DELETE", "/alerts/k1", "GET, HEAD"],
      ] as const
    ) {
      const res = await app.request(path, { method, headers: AUTH });
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.headers.get("allow"), allow, `${method} ${path}`);
      assert.deepEqual(await res.json(), {
        error: `Cannot accept method ${method} on ${path}: use ${allow}`,
      });
    }
    const unknown = await app.request("/api/nope", { method: "POST", headers: AUTH });
    assert.equal(unknown.status, 404);
  }, { token: TOKEN, publicRead: false, assets: await loadStaticAssets() });
});

Deno.test("the web answers 413 to a 1 MB body without reading it, on any route", opts, async () => {
  await withWebApp(async ({ app, sql }) => {
    await insertAnomalies(sql, [{ id: "k1", detected_at: new Date() }]);
    for (const [path, headers] of [["/api/anomalies/k1/ack", AUTH], ["/", {}]] as const) {
      const mb = megabyte();
      const res = await app.request(path, { method: "POST", body: mb.body, headers });
      assert.equal(res.status, 413, path);
      assert.deepEqual(await res.json(), { error: "Cannot read body: larger than 65536 bytes" });
      assert.ok(mb.pulled() <= 80 * 1024, `${path}: read ${mb.pulled()} bytes of 1 MB`);
    }
    const declared = await app.request("/api/silences", {
      method: "POST",
      body: "{}",
      headers: { ...AUTH, "content-length": String(1024 * 1024) },
    });
    assert.equal(declared.status, 413);
  }, { token: TOKEN });
});

Deno.test("the web answers 400, not 500, to NUL in a query, a path or a body", opts, async () => {
  await withWebApp(async ({ app, sql }) => {
    await insertAnomalies(sql, [{ id: "k1", detected_at: new Date() }]);
    for (
      const path of [
        "/api/anomalies?entity=%00",
        "/api/anomalies?x=%00",
        "/api/anomalies/a%00b",
        "/api/series/metrics/a%00b",
        "/api/series/metrics/x?measure=%00",
        "/api/silences?active=%00",
        "/health?x=%00",
      ]
    ) {
      const r = await getJson(app, path);
      assert.equal(r.status, 400, path);
      assert.match(r.body.error as string, /must not contain control characters/, path);
    }
    const ack = await sendJson(
      app,
      "POST",
      "/api/anomalies/k1/ack",
      { by: "ann", comment: "a\u0000b" },
      AUTH,
    );
    assert.equal(ack.status, 400);
    assert.equal(ack.body.error, "Cannot read body: comment: must not contain NUL characters");
    const silence = await sendJson(app, "POST", "/api/silences", {
      matchers: { entity: "x\u0000" },
      duration: "1h",
      author: "ann",
    }, AUTH);
    assert.equal(silence.status, 400);
  }, { token: TOKEN });
});

Deno.test(
  "the web over a real socket: 1 MB POST gets 413, ?entity=%00 gets 400",
  opts,
  async () => {
    await withWebApp(async ({ app }) => {
      const server = serve(app, { port: 0, log: silentLogger() });
      try {
        const base = `http://127.0.0.1:${server.port}`;
        const big = await fetch(`${base}/api/silences`, {
          method: "POST",
          body: new Uint8Array(1024 * 1024),
          headers: AUTH,
        });
        assert.equal(big.status, 413);
        await big.body?.cancel();
        const nul = await fetch(`${base}/api/anomalies?entity=%00`);
        assert.equal(nul.status, 400);
        await nul.body?.cancel();
        const health = await fetch(`${base}/health`);
        assert.equal(health.status, 200);
        await health.body?.cancel();
      } finally {
        await server.close();
      }
    }, { token: TOKEN });
  },
);

Deno.test(
  "a query name given twice answers 400 naming it, not the first value alone",
  opts,
  async () => {
    await withWebApp(async ({ app, sql }) => {
      await insertAnomalies(sql, [
        { id: "l1", detected_at: new Date(), type: "logs", severity: "WARNING" },
        { id: "m1", detected_at: new Date(), type: "metrics", severity: "CRITICAL" },
      ]);
      // A client sending a list the common way got only the logs, and no word about it.
      for (
        const [path, name] of [
          ["/api/anomalies?type=logs&type=metrics", "type"],
          ["/api/anomalies?severity=WARNING&severity=CRITICAL", "severity"],
          ["/api/anomalies?limit=1&limit=500", "limit"],
          ["/api/stats?bucket=hour&bucket=minute", "bucket"],
          ["/api/silences?active=true&active=", "active"],
        ]
      ) {
        const r = await getJson(app, path!);
        assert.equal(r.status, 400, path);
        assert.match(
          r.body.error as string,
          new RegExp(`^Cannot read query: ${name}: given twice`),
        );
      }
      const list = await getJson(app, "/api/anomalies?type=logs,metrics");
      assert.equal(list.status, 200);
      assert.equal((list.body.items as unknown[]).length, 2);
    });
  },
);

Deno.test("HEAD of an API read answers 503 at the deadline, as its GET does", opts, async () => {
  // PostgreSQL that never answers (postgres.js queueing queries while it reconnects).
  const stalled = new Proxy(function () {}, {
    apply: () => new Promise(() => {}),
    get: () => () => new Promise(() => {}),
  }) as unknown as Sql;
  await withWebApp(async ({ app }) => {
    for (const method of ["GET", "HEAD"]) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const res = await Promise.race([
        Promise.resolve(app.request("/api/anomalies", { method })),
        new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), 2000)),
      ]);
      clearTimeout(timer);
      assert.ok(res, `${method} still waiting after 2 s`);
      await res.body?.cancel();
      assert.equal(res.status, 503, method);
      assert.equal(res.headers.get("retry-after"), "5", method);
    }
  }, { appSql: () => stalled, requestDeadlineMs: 200 });
});

Deno.test(
  "HEAD answers its GET's headers over a real socket, Content-Length and error page included",
  opts,
  async () => {
    const assets = await loadStaticAssets();
    await withWebApp(async ({ app, sql }) => {
      await insertAnomalies(sql, [{ id: "h1", detected_at: new Date() }]);
      const server = serve(app, { port: 0, log: silentLogger() });
      try {
        const base = `http://127.0.0.1:${server.port}`;
        const cases: [string, Record<string, string>][] = [
          ["/api/anomalies", {}],
          ["/api/anomalies/h1", {}],
          ["/api/anomalies/nope", {}],
          ["/api/openapi.json", {}],
          ["/health", {}],
          ["/", {}],
          ["/assets/app.js", {}],
          // A mistyped address opened by a browser: its GET is an HTML page.
          ["/alerts/h1/nope", { accept: "text/html" }],
        ];
        for (const [path, headers] of cases) {
          const get = await fetch(`${base}${path}`, { headers });
          const size = (await get.arrayBuffer()).byteLength;
          const head = await fetch(`${base}${path}`, { method: "HEAD", headers });
          assert.equal((await head.arrayBuffer()).byteLength, 0, `HEAD ${path}: no body`);
          assert.equal(head.status, get.status, path);
          assert.equal(head.headers.get("content-type"), get.headers.get("content-type"), path);
          // It said 0 for every HEAD (RFC 9110 8.6: the GET's length, or no Content-Length).
          assert.equal(head.headers.get("content-length"), String(size), `HEAD ${path}`);
        }
      } finally {
        await server.close();
      }
    }, { assets });
  },
);
