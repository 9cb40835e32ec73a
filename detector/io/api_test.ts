import assert from "node:assert/strict";
import { silentLogger } from "@vigil/tools/testing/log";
import { createEvaluateApp } from "./api.ts";
import { createRulesApp } from "./rules_api.ts";
import { createStatusApp } from "./status_api.ts";
import { createKeys } from "@vigil/shared/keys";
import { DEFAULT_RULES } from "../core/rules_config.ts";
import { entry, MIN, run, SEC, T0 } from "../tools/testing/rules.ts";
import type { ZScoreState } from "../core/rules/status_zscore.ts";

const config = DEFAULT_RULES.transactions.status_zscore;

/** A live transactions evaluator with `minutes` minutes of 10 approved per minute. */
function live(minutes: number) {
  let n = 0;
  const events = [];
  for (let m = 0; m < minutes; m++) {
    for (let i = 0; i < 10; i++) {
      events.push(entry(T0 + m * MIN + i * 5 * SEC, {
        transaction_id: `t${++n}`,
        user_id: `u${n}`,
        amount: 5,
        currency: "EUR",
        status: "approved",
      }));
    }
  }
  const { evaluator } = run("transactions", events);
  return evaluator;
}

function handlerFor(minutes: number, owns: (s: string) => boolean = () => true) {
  const evaluator = live(minutes);
  const app = createEvaluateApp({
    config: () => config,
    zscore: (status) =>
      owns(status)
        ? {
          state: evaluator.ruleState("status_zscore") as ZScoreState,
          watermark: evaluator.watermark(),
        }
        : "elsewhere",
    log: silentLogger(),
    now: () => T0,
  });
  const call = async (body: unknown, method = "POST") => {
    const res = await app.request("/api/alerts/evaluate", {
      method,
      ...(method === "POST"
        ? { body: typeof body === "string" ? body : JSON.stringify(body) }
        : {}),
    });
    return { status: res.status, allow: res.headers.get("allow"), body: await res.json() };
  };
  return { evaluator, app, call };
}

Deno.test("POST /api/alerts/evaluate scores a count against the live baseline", async () => {
  const { evaluator, call } = handlerFor(60);
  const before = JSON.stringify(evaluator.snapshot());
  const r = await call({ status: "approved", count: 15, timestamp: T0 + 60 * MIN });
  assert.equal(r.status, 200);
  assert.equal(r.body.severity, "CRITICAL");
  assert.equal(r.body.z, 5);
  assert.equal(r.body.mean, 10);
  assert.equal(r.body.std, 0);
  assert.equal(r.body.baseline_minutes, 60);
  assert.equal(r.body.anomalous, true);
  assert.match(r.body.reason, /z = \(15 - 10\) \/ max\(0, 1\) = 5/);
  assert.deepEqual(r.body.thresholds, { warning: 2.5, critical: 4 });
  const normal = await call({ status: "approved", count: 12, timestamp: T0 + 60 * MIN });
  assert.equal(normal.body.severity, null);
  assert.equal(normal.body.anomalous, false);
  assert.equal(JSON.stringify(evaluator.snapshot()), before, "the baseline is not changed");
});

Deno.test("POST /api/alerts/evaluate without a timestamp uses the newest transaction's minute", async () => {
  const { call } = handlerFor(40);
  const r = await call({ status: "approved", count: 13 });
  assert.equal(r.status, 200);
  assert.equal(r.body.minute, new Date(T0 + 39 * MIN).toISOString());
  // Minute 39 is scored against minutes 0..38 (10 per minute).
  assert.equal(r.body.mean, 10);
  assert.equal(r.body.severity, "WARNING");
});

Deno.test("POST /api/alerts/evaluate refuses a minute older than the live baseline, as the rule does", async () => {
  // 3 hours of 10 approved a minute: the counts of hours ago are no longer held, and they were
  // taken as empty: 13 approved at the end of the first hour came back CRITICAL (mean 0, z 13)
  // where the rule, in its time, found it a WARNING (mean 10, z 3).
  const { call } = handlerFor(180);
  const old = await call({ status: "approved", count: 13, timestamp: T0 + 60 * MIN });
  assert.equal(old.status, 422);
  assert.match(old.body.error, /^timestamp: the minute 2025-01-01T01:00:00.000Z is older than/);
  // The oldest minute the rule still takes (its late horizon) is scored on its whole baseline.
  const oldest = await call({ status: "approved", count: 13, timestamp: T0 + 119 * MIN });
  assert.equal(oldest.status, 200);
  assert.equal(oldest.body.mean, 10);
  assert.equal(oldest.body.severity, "WARNING");
});

Deno.test("POST /api/alerts/evaluate without a baseline: problem statuses are CRITICAL", async () => {
  const { call } = handlerFor(5);
  const failed = await call({ status: "failed", count: 1 });
  assert.equal(failed.status, 200);
  assert.equal(failed.body.severity, "CRITICAL");
  assert.equal(failed.body.z, null);
  assert.match(failed.body.reason, /no baseline yet/);
  const zero = await call({ status: "failed", count: 0 });
  assert.equal(zero.body.severity, null);
  const approved = await call({ status: "approved", count: 500 });
  assert.equal(approved.body.severity, null);
});

Deno.test("POST /api/alerts/evaluate answers 422 for an unknown status or a bad count", async (t) => {
  const { call } = handlerFor(5);
  const cases: [unknown, RegExp][] = [
    [{ status: "lost", count: 1 }, /unknown status "lost": expected one of approved, denied/],
    [{ status: "failed", count: -1 }, /count must be an integer from 0 to/],
    [{ status: "failed", count: 1.5 }, /count must be an integer/],
    [{ status: "failed", count: "3" }, /count must be a number/],
    [{ count: 3 }, /status/],
    [{ status: "failed", count: 1, timestamp: "yesterday" }, /timestamp/],
    [{ status: "failed", count: 1e308 }, /count must be an integer from 0 to 1,000,000,000/],
  ];
  for (const [body, message] of cases) {
    await t.step(JSON.stringify(body), async () => {
      const r = await call(body);
      assert.equal(r.status, 422);
      assert.match(r.body.error, message);
    });
  }
  await t.step("not JSON: 400", async () => {
    const r = await call("{status");
    assert.equal(r.status, 400);
  });
  await t.step("GET: 405", async () => {
    const r = await call(undefined, "GET");
    assert.equal(r.status, 405);
    assert.equal(r.allow, "POST");
  });
});

Deno.test("POST /api/alerts/evaluate answers 422 naming a misspelled key, never ignores it", async (t) => {
  const { call } = handlerFor(5);
  const cases: [unknown, string][] = [
    [{ status: "failed", count: 12, timestmap: T0 }, "timestmap"],
    [{ status: "failed", count: 12, dispach: true }, "dispach"],
  ];
  for (const [body, key] of cases) {
    await t.step(key, async () => {
      const r = await call(body);
      assert.equal(r.status, 422);
      assert.match(r.body.error, new RegExp(`Unrecognized key: "${key}"`));
    });
  }
});

Deno.test("POST /api/alerts/evaluate names the range of a count too large for it", async () => {
  const { call } = handlerFor(5);
  for (const count of [1e20, 1e308, 1_000_000_001, -1]) {
    const r = await call({ status: "failed", count });
    assert.equal(r.status, 422);
    assert.equal(r.body.error, "count: count must be an integer from 0 to 1,000,000,000");
  }
  const fraction = await call({ status: "failed", count: 1.5 });
  assert.equal(fraction.body.error, "count: count must be an integer from 0 to 1,000,000,000");
});

Deno.test("POST /api/alerts/evaluate takes a status in any case, like a transaction's", async () => {
  const { call } = handlerFor(5);
  const r = await call({ status: "FAILED", count: 3, timestamp: T0 });
  assert.equal(r.status, 200);
  assert.equal(r.body.status, "failed");
});

Deno.test("POST /api/alerts/evaluate answers 409 for a status another detector instance scores", async () => {
  const { call } = handlerFor(5, (s) => s !== "denied");
  assert.equal((await call({ status: "denied", count: 1 })).status, 409);
  assert.equal((await call({ status: "failed", count: 1 })).status, 200);
});

Deno.test("POST /api/alerts/evaluate answers 503 when the status_zscore rule is off", async () => {
  const app = createEvaluateApp({
    config: () => config,
    zscore: () => undefined,
    log: silentLogger(),
  });
  const res = await app.request("/api/alerts/evaluate", {
    method: "POST",
    body: JSON.stringify({ status: "failed", count: 1 }),
  });
  assert.equal(res.status, 503);
  assert.deepEqual(await res.json(), { error: "the status_zscore rule is disabled" });
});

Deno.test("POST /api/alerts/evaluate answers 413 to a 1 MB body without reading it", async () => {
  const { app } = handlerFor(5);
  let pulled = 0;
  const chunk = new TextEncoder().encode(" ".repeat(1024));
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled >= 1024 * 1024) return controller.close();
      pulled += chunk.length;
      controller.enqueue(chunk);
    },
  });
  const res = await app.request("/api/alerts/evaluate", { method: "POST", body });
  assert.equal(res.status, 413);
  assert.deepEqual(await res.json(), { error: "Cannot read body: larger than 16384 bytes" });
  assert.ok(pulled <= 20 * 1024, `read ${pulled} bytes of 1 MB`);
  const declared = await app.request("/api/alerts/evaluate", {
    method: "POST",
    body: chunk,
    headers: { "content-length": String(1024 * 1024) },
  });
  assert.equal(declared.status, 413);
});

Deno.test("the detector's routes answer 400 to NUL in the query or the body", async () => {
  const { app } = handlerFor(5);
  const res = await app.request("/api/alerts/evaluate?x=%00", {
    method: "POST",
    body: JSON.stringify({ status: "failed", count: 1 }),
  });
  assert.equal(res.status, 400);
  assert.match((await res.json()).error, /must not contain control characters/);
  const nul = await app.request("/api/alerts/evaluate", {
    method: "POST",
    body: JSON.stringify({ status: "fail\u0000ed", count: 1 }),
  });
  assert.equal(nul.status, 400);
});

Deno.test("the detector's routes answer 400 to a query name they do not take", async () => {
  // `?dispatch=true` answered 200 without dispatching; the others answered as if filtered.
  const { app, evaluator } = handlerFor(5);
  const seen = evaluator.watermark();
  const evaluate = await app.request("/api/alerts/evaluate?dispatch=true", {
    method: "POST",
    body: JSON.stringify({ status: "failed", count: 1 }),
  });
  assert.equal(evaluate.status, 400);
  assert.deepEqual(await evaluate.json(), {
    error: 'Cannot read query: (root): Unrecognized key: "dispatch"',
  });
  assert.equal(evaluator.watermark(), seen);
  const untouched = () => {
    throw new Error("read despite the refused query");
  };
  const rules = createRulesApp({
    rules: { current: untouched, version: untouched, lastRejection: untouched },
    log: silentLogger(),
  });
  const status = createStatusApp({
    store: { openByEntity: untouched },
    redis: { pipeline: untouched, isCluster: false },
    keys: createKeys("vigil:"),
    log: silentLogger(),
  });
  for (
    const [a, path] of [[rules, "/api/rules?rule=x"], [
      status,
      "/api/alerts/status?status=failed",
    ]] as const
  ) {
    const res = await a.request(path);
    assert.equal(res.status, 400, path);
    assert.match((await res.json()).error, /^Cannot read query: \(root\): Unrecognized key/);
  }
});
