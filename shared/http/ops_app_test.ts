import assert from "node:assert/strict";
import { silentLogger } from "@vigil/tools/testing/log";
import { createOpsApp, type HealthCheck, runHealthChecks } from "./ops_app.ts";

const metrics = {
  contentType: "text/plain; version=0.0.4",
  render: () => Promise.resolve("m 1\n"),
};

Deno.test("createOpsApp() answers /health 200 with every check, and /healthz the same", async () => {
  const app = createOpsApp({
    checks: { redis: () => true, postgres: () => Promise.resolve(true) },
    metrics,
    log: silentLogger(),
  });
  for (const path of ["/health", "/healthz"]) {
    const res = await app.request(path);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      status: "ok",
      ok: true,
      checks: { redis: "ok", postgres: "ok" },
      details: {},
    });
  }
});

Deno.test("createOpsApp() answers /health 503 listing the failing check with its detail", async () => {
  const app = createOpsApp({
    checks: {
      redis: () => true,
      consumer: () => ({ ok: false, detail: "no progress for 75 s with 1,200 pending" }),
      lag: () => ({ ok: true, detail: { pending: 3 } }),
    },
    metrics,
    log: silentLogger(),
  });
  const res = await app.request("/health");
  assert.equal(res.status, 503);
  assert.deepEqual(await res.json(), {
    status: "degraded",
    ok: false,
    checks: { redis: "ok", consumer: "fail", lag: "ok" },
    details: { consumer: "no progress for 75 s with 1,200 pending", lag: { pending: 3 } },
  });
});

Deno.test("runHealthChecks() fails a slow check after the timeout and a throwing one without its error", async () => {
  const warned: unknown[] = [];
  const log = { ...silentLogger(), warn: (_m: string, f?: unknown) => warned.push(f) };
  const checks: Record<string, HealthCheck> = {
    slow: () => new Promise<boolean>((r) => setTimeout(() => r(true), 1000)),
    throws: () => {
      throw new Error("connect ECONNREFUSED 10.0.0.5:6379");
    },
    rejects: () => Promise.reject(new Error("nope")),
    ok: () => true,
  };
  const started = performance.now();
  const report = await runHealthChecks(checks, { timeoutMs: 50, log });
  assert.ok(performance.now() - started < 900, "does not wait for the slow check");
  assert.deepEqual(report.checks, { slow: "fail", throws: "fail", rejects: "fail", ok: "ok" });
  assert.deepEqual(report.details, {
    slow: "timed out after 50 ms",
    throws: "check failed; see the server log",
    rejects: "check failed; see the server log",
  });
  assert.equal(warned.length, 2);
  assert.doesNotMatch(JSON.stringify(report), /ECONNREFUSED/);
  await new Promise((r) => setTimeout(r, 1000)); // let the slow check end (no leaked timer)
});

Deno.test("createOpsApp() serves /metrics with the source's content type", async () => {
  const app = createOpsApp({ checks: {}, metrics, log: silentLogger() });
  const res = await app.request("/metrics");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4");
  assert.equal(await res.text(), "m 1\n");
});

Deno.test("createOpsApp() adds extra fields and health paths, and guards its routes", async () => {
  const app = createOpsApp({
    checks: { a: () => true },
    metrics,
    log: silentLogger(),
    healthPaths: ["/health", "/api/health"],
    extra: () => ({ live_clients: 3 }),
  });
  const a = await (await app.request("/health")).json();
  const b = await (await app.request("/api/health")).json();
  assert.deepEqual(a, b);
  assert.equal(a.live_clients, 3);
  assert.equal((await app.request("/healthz")).status, 404);
  assert.equal((await app.request("/health?x=%00")).status, 400);
  const big = await app.request("/health", {
    method: "POST",
    body: "x".repeat(20_000),
    headers: { "content-length": "20000" },
  });
  assert.equal(big.status, 413);
});

Deno.test("createOpsApp() shows a warning check: still 200, status warn, its fields listed", async () => {
  const app = createOpsApp({
    checks: {
      redis: () => true,
      kafka_gaps: () => ({ status: "warn", message: "messages deleted by Kafka", gaps: 2 }),
      quiet: () => ({ status: "ok" }),
    },
    metrics,
    log: silentLogger(),
  });
  const res = await app.request("/health");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {
    status: "warn",
    ok: true,
    checks: { redis: "ok", kafka_gaps: "warn", quiet: "ok" },
    details: { kafka_gaps: { message: "messages deleted by Kafka", gaps: 2 } },
  });
  const failing = createOpsApp({
    checks: { a: () => ({ status: "warn" }), b: () => ({ status: "fail", why: "down" }) },
    metrics,
    log: silentLogger(),
  });
  const r = await failing.request("/health");
  assert.equal(r.status, 503);
  assert.deepEqual(await r.json(), {
    status: "degraded",
    ok: false,
    checks: { a: "warn", b: "fail" },
    details: { b: { why: "down" } },
  });
});
