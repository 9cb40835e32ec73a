import assert from "node:assert/strict";
import { silentLogger } from "@vigil/tools/testing/log";
import { createEvaluateApp } from "./api.ts";
import { DEFAULT_RULES } from "../core/rules_config.ts";
import { entry, MIN, run, SEC, T0 } from "../tools/testing/rules.ts";
import type { ZScoreState } from "../core/rules/status_zscore.ts";
import { adoptDispatched } from "../core/rules/status_dispatch.ts";
import type { Firing } from "../core/rules/types.ts";

const TOKEN = "test-token-123";

function dispatchApp(token: string | null = TOKEN) {
  const sent: Firing[] = [];
  const stored = new Set<string>();
  const state: ZScoreState = {
    first: null,
    counts: new Map(),
    episodes: new Map(),
    emitted: null,
    late: 0,
  };
  const app = createEvaluateApp({
    config: () => DEFAULT_RULES.transactions.status_zscore,
    zscore: () => ({ state, watermark: T0 }),
    dispatch(firing) {
      sent.push(firing);
      const created = !stored.has(firing.id);
      stored.add(firing.id);
      return Promise.resolve({ created, published: created });
    },
    token: token ?? undefined,
    log: silentLogger(),
  });
  const call = async (body: unknown, auth: string | null = `Bearer ${TOKEN}`) => {
    const res = await app.request("/api/alerts/evaluate", {
      method: "POST",
      body: JSON.stringify(body),
      headers: auth ? { authorization: auth } : {},
    });
    return { status: res.status, body: await res.json() };
  };
  return { call, sent };
}

Deno.test("POST /api/alerts/evaluate with dispatch needs the bearer token; without dispatch it stays open", async () => {
  const { call, sent } = dispatchApp();
  const body = { status: "failed", count: 3, timestamp: T0, dispatch: true };
  assert.equal((await call(body, null)).status, 401);
  assert.equal((await call(body, "Bearer wrong-token-1")).status, 401);
  assert.equal(sent.length, 0, "nothing dispatched without the token");
  const open = await call({ status: "failed", count: 3, timestamp: T0 }, null);
  assert.equal(open.status, 200);
  assert.equal(open.body.severity, "CRITICAL");
  assert.equal(open.body.dispatch, undefined);

  const off = dispatchApp(null);
  const r = await off.call(body);
  assert.equal(r.status, 503);
  assert.match(r.body.error, /set VIGIL_API_TOKEN on the detector/);
});

Deno.test("POST /api/alerts/evaluate with dispatch stores one anomaly per request, by content or by id", async () => {
  const { call, sent } = dispatchApp();
  const body = { status: "failed", count: 3, timestamp: T0 + 5_000, dispatch: true };
  const first = await call(body);
  assert.equal(first.status, 200);
  assert.equal(first.body.dispatch.created, true);
  assert.match(first.body.dispatch.anomaly_id, /^[0-9a-f]{32}$/);
  const again = await call(body);
  assert.equal(again.body.dispatch.anomaly_id, first.body.dispatch.anomaly_id);
  assert.equal(again.body.dispatch.created, false, "the same request twice: one anomaly");

  const other = await call({ ...body, count: 4 });
  assert.notEqual(other.body.dispatch.anomaly_id, first.body.dispatch.anomaly_id);
  const keyed = await call({ ...body, id: "req-1" });
  const keyedAgain = await call({ ...body, count: 5, id: "req-1" });
  assert.equal(keyedAgain.body.dispatch.anomaly_id, keyed.body.dispatch.anomaly_id);
  assert.notEqual(keyed.body.dispatch.anomaly_id, first.body.dispatch.anomaly_id);

  const f = sent[0]!;
  assert.equal(f.rule, "status_zscore");
  assert.equal(f.entity, "failed");
  assert.equal(f.severity, "CRITICAL");
  assert.equal(f.eventTime, T0 + 5_000);
  assert.equal(f.details.source, "api");
  assert.equal(sent[3]!.details.request_id, "req-1");
});

Deno.test("POST /api/alerts/evaluate with dispatch of a normal count dispatches nothing", async () => {
  const { call, sent } = dispatchApp();
  const r = await call({ status: "approved", count: 3, timestamp: T0, dispatch: true });
  assert.equal(r.status, 200);
  assert.equal(r.body.anomalous, false);
  assert.deepEqual(r.body.dispatch, {
    anomaly_id: null,
    reason: "not anomalous: nothing to dispatch",
  });
  assert.equal(sent.length, 0);
  const bad = await call({ status: "failed", count: 1, dispatch: "yes" });
  assert.equal(bad.status, 422);
  const badId = await call({ status: "failed", count: 1, dispatch: true, id: "a b" });
  assert.equal(badId.status, 422);
  assert.match(badId.body.error, /id must be 1-128 printable ASCII characters, no space/);
});

Deno.test("POST /api/alerts/evaluate refuses a minute ahead of the newest transaction, which would hold the rule's cooldown there", async () => {
  // An hour of 10 approved and 1 failed a minute, as the live rule saw it.
  const events = [];
  let n = 0;
  const tx = (t: number, status: string) =>
    entry(t, { transaction_id: `t${++n}`, user_id: `u${n}`, amount: 5, currency: "EUR", status });
  for (let m = 0; m < 60; m++) {
    for (let i = 0; i < 10; i++) events.push(tx(T0 + m * MIN + i * 5 * SEC, "approved"));
    events.push(tx(T0 + m * MIN + 55 * SEC, "failed"));
  }
  const { evaluator } = run("transactions", events);
  const state = evaluator.ruleState("status_zscore") as ZScoreState;
  const app = createEvaluateApp({
    config: () => DEFAULT_RULES.transactions.status_zscore,
    zscore: () => ({ state, watermark: evaluator.watermark() }),
    dispatch(firing) {
      adoptDispatched(state, firing, DEFAULT_RULES.cooldown);
      return Promise.resolve({ created: true, published: true });
    },
    token: TOKEN,
    log: silentLogger(),
  });
  const call = async (body: unknown) => {
    const res = await app.request("/api/alerts/evaluate", {
      method: "POST",
      body: JSON.stringify(body),
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    return { status: res.status, body: await res.json() };
  };
  // The caller's local time (UTC+2) written without an offset is read as UTC: 2 hours ahead.
  // Its baseline is two hours of minutes that have not happened (empty): 1 failed scored z 1,
  // 5 failed CRITICAL, and once adopted the rule's episode and cooldown of failed ran until then.
  const ahead = await call({
    status: "failed",
    count: 5,
    timestamp: new Date(T0 + 3 * 60 * MIN).toISOString().slice(0, 19).replace("T", " "),
    dispatch: true,
  });
  assert.equal(ahead.status, 422);
  assert.match(
    ahead.body.error,
    /^timestamp: the minute 2025-01-01T03:00:00.000Z is ahead of the newest transaction \(2025-01-01T00:59:55.000Z\)/,
  );
  // The next minute (a caller's clock a little ahead of the stream) is taken.
  const next = await call({ status: "failed", count: 1, timestamp: T0 + 60 * MIN + 30 * SEC });
  assert.equal(next.status, 200);
  assert.equal(next.body.severity, null);
  // The live rule still raises the real burst of failed a minute later.
  const burst = [];
  for (let i = 0; i < 10; i++) burst.push(tx(T0 + 61 * MIN + i * SEC, "failed"));
  const after = run("transactions", burst, { evaluator, only: "status_zscore" });
  assert.deepEqual(after.firings.map((f) => [f.entity, f.severity]), [["failed", "WARNING"], [
    "failed",
    "CRITICAL",
  ]]);
});
