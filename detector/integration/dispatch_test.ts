/**
 * `POST /api/alerts/evaluate` with `dispatch: true` and `GET /api/alerts/status`
 * against the real PostgreSQL and Redis, on an in-process detector: the
 * dispatched anomaly is stored once (the same request twice), published once
 * on the alerts stream (what the notifier reads), counted, listed as firing
 * with its z-score, and resolved through the rule's episode when the stream
 * moves past its minute.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import postgres from "postgres";
import { silentLogger } from "@vigil/tools/testing/log";
import { sampleValue } from "@vigil/tools/testing/metrics";
import { startSilentServer } from "@vigil/tools/testing/silent_server";
import { waitFor } from "@vigil/tools/testing/wait";
import { type ApiDeps, createEvaluateApp } from "../io/api.ts";
import { createStatusApp } from "../io/status_api.ts";
import { createStore } from "../io/store.ts";
import { appendEvents, consumedUpTo, readAlerts, withDetector } from "./_harness.ts";

const MIN = 60_000;
const TOKEN = "dispatch-test-token";

type Ctx = Parameters<Parameters<typeof withDetector>[1]>[0];

/** 40 minutes of 5 approved a minute from `base` (the rule's baseline), appended and consumed. */
async function feedBaseline({ redis, keys }: Ctx, base: number): Promise<void> {
  const events = [];
  for (let m = 0; m < 40; m++) {
    for (let i = 0; i < 5; i++) {
      const n = m * 5 + i;
      events.push({
        timestamp: new Date(base + m * MIN + i * 10_000).toISOString(),
        transaction_id: `t${n}`,
        user_id: `u${n}`,
        amount: 12,
        currency: "EUR",
        status: "approved",
      });
    }
  }
  const ids = await appendEvents(redis, keys, "transactions", events);
  await waitFor(() => consumedUpTo(redis, keys, "transactions", ids.at(-1)!), {
    what: "the baseline consumed",
  });
}

/** The evaluate API over the in-process detector, dispatching through it. */
function evaluateApp({ d }: Ctx, options: Partial<ApiDeps> = {}): Hono {
  return createEvaluateApp({
    config: () => d.detector.rules().transactions.status_zscore,
    zscore: (s) => d.detector.zscore(s),
    dispatch: (f, signal) => d.detector.dispatch(f, signal),
    token: TOKEN,
    log: silentLogger(),
    ...options,
  });
}

Deno.test(
  "evaluate with dispatch stores, publishes and counts one anomaly; status lists it until it resolves",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    await withDetector({}, async ({ sql, redis, keys, d }) => {
      const base = Math.floor(Date.now() / MIN) * MIN - 45 * MIN;
      let n = 0;
      const tx = (t: number) => ({
        timestamp: new Date(t).toISOString(),
        transaction_id: `t${++n}`,
        user_id: `u${n}`,
        amount: 12,
        currency: "EUR",
        status: "approved",
      });
      // 40 minutes of 5 approved per minute: the baseline.
      const events = [];
      for (let m = 0; m < 40; m++) {
        for (let i = 0; i < 5; i++) events.push(tx(base + m * MIN + i * 10_000));
      }
      const ids = await appendEvents(redis, keys, "transactions", events);
      const consumed = (last: string) => consumedUpTo(redis, keys, "transactions", last);
      await waitFor(() => consumed(ids.at(-1)!), { what: "the baseline consumed" });

      const app = new Hono();
      app.route("/", evaluateApp({ sql, redis, keys, d }));
      app.route(
        "/",
        createStatusApp({ store: createStore({ sql }), redis, keys, log: silentLogger() }),
      );
      const dispatch = async () => {
        const res = await app.request("/api/alerts/evaluate", {
          method: "POST",
          headers: { authorization: `Bearer ${TOKEN}` },
          body: JSON.stringify({
            status: "approved",
            count: 60,
            timestamp: new Date(base + 40 * MIN + 30_000).toISOString(),
            dispatch: true,
          }),
        });
        assert.equal(res.status, 200);
        return await res.json();
      };
      const first = await dispatch();
      assert.equal(first.severity, "CRITICAL");
      assert.equal(first.z, 55, "(60 - 5) / max(0, 1)");
      assert.equal(first.dispatch.created, true);
      assert.equal(first.dispatch.published, true);
      const again = await dispatch();
      assert.equal(again.dispatch.anomaly_id, first.dispatch.anomaly_id);
      assert.equal(again.dispatch.created, false);
      const id = first.dispatch.anomaly_id as string;

      // Stored once, published once on the alerts stream, counted once.
      const rows = await sql`SELECT id, rule, entity, severity, score, details->>'source' AS source,
        published_at IS NOT NULL AS published FROM anomaly_events`;
      assert.equal(rows.length, 1);
      assert.deepEqual(
        [rows[0]!.id, rows[0]!.rule, rows[0]!.entity, rows[0]!.severity, rows[0]!.score],
        [id, "status_zscore", "approved", "CRITICAL", 55],
      );
      assert.equal(rows[0]!.source, "api");
      await waitFor(async () =>
        (await sql`SELECT published_at FROM anomaly_events`)[0]!
          .published_at !== null, { what: "publication recorded" });
      const alerts = (await readAlerts(redis, keys)).filter((a) => a.id === id);
      assert.deepEqual(alerts.map((a) => a.status), ["firing"]);
      const counter = d.registry.counter("vigil_detector_anomalies_total", "");
      assert.equal(
        await sampleValue(counter, { rule: "status_zscore", severity: "CRITICAL" }),
        1,
      );

      // Firing now, with its z-score and the status's last cached z.
      const status = async () => (await (await app.request("/api/alerts/status")).json()).statuses;
      const s1 = await status();
      assert.equal(s1.approved.severity, "CRITICAL");
      assert.deepEqual(
        s1.approved.firing.map((f: Record<string, unknown>) => [f.id, f.z, f.count, f.source]),
        [[id, 55, 60, "api"]],
      );
      assert.equal(s1.approved.last_z.count, 5, "the last completed minute had 5");
      assert.equal(s1.failed.severity, null);
      assert.deepEqual(s1.failed.firing, []);

      // The stream moves past the dispatched minute: the rule's episode resolves it.
      const later = await appendEvents(redis, keys, "transactions", [tx(base + 43 * MIN)]);
      await waitFor(() => consumed(later[0]!), { what: "the later transaction consumed" });
      await waitFor(
        async () =>
          (await readAlerts(redis, keys)).some((a) => a.id === id && a.status === "resolved"),
        {
          what: "the resolved alert",
        },
      );
      const [row] = await sql`SELECT resolved_at FROM anomaly_events WHERE id = ${id}`;
      assert.equal((row!.resolved_at as Date).getTime(), base + 42 * MIN);
      const s2 = await status();
      assert.equal(s2.approved.severity, null);
      assert.deepEqual(s2.approved.firing, []);
    });
  },
);

Deno.test(
  "evaluate with dispatch: an id used again with another request answers 409, the same request the first anomaly",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    await withDetector({}, async (ctx) => {
      const { sql } = ctx;
      const base = Math.floor(Date.now() / MIN) * MIN - 45 * MIN;
      await feedBaseline(ctx, base);
      const app = evaluateApp(ctx);
      const timestamp = new Date(base + 40 * MIN + 30_000).toISOString();
      const dispatch = async (over: Record<string, unknown>) => {
        const res = await app.request("/api/alerts/evaluate", {
          method: "POST",
          headers: { authorization: `Bearer ${TOKEN}` },
          body: JSON.stringify({
            status: "approved",
            count: 60,
            timestamp,
            dispatch: true,
            id: "order-7",
            ...over,
          }),
        });
        return { status: res.status, body: await res.json() };
      };
      const first = await dispatch({});
      assert.equal(first.status, 200);
      assert.equal(first.body.dispatch.created, true);
      const again = await dispatch({ status: "APPROVED" }); // the same status, as a transaction's
      assert.equal(again.status, 200);
      assert.deepEqual(again.body.dispatch, {
        ...first.body.dispatch,
        created: false,
        published: false,
      });
      // Without a timestamp, a retry scores the minute of now: the same request all the same.
      const untimed = await dispatch({ timestamp: undefined });
      assert.equal(untimed.status, 200, JSON.stringify(untimed.body));
      assert.equal(untimed.body.dispatch.created, false);
      for (
        const [over, what] of [
          [{ count: 61 }, "count 61 instead of 60"],
          [{ status: "failed" }, 'status "failed" instead of "approved"'],
          [{ timestamp: new Date(base + 40 * MIN + 40_000).toISOString() }, "timestamp"],
        ] as const
      ) {
        const r = await dispatch(over);
        assert.equal(r.status, 409, JSON.stringify(over));
        assert.match(r.body.error, /^Cannot dispatch: id "order-7" was used for another request/);
        assert.ok(r.body.error.includes(what), r.body.error);
      }
      // Without an id, the id is the content's (status, minute, count): no other request has it.
      const content = await dispatch({ id: undefined, count: 70 });
      const sameMinute = await dispatch({
        id: undefined,
        count: 70,
        timestamp: new Date(base + 40 * MIN + 50_000).toISOString(),
      });
      assert.equal(sameMinute.status, 200, JSON.stringify(sameMinute.body));
      assert.equal(sameMinute.body.dispatch.anomaly_id, content.body.dispatch.anomaly_id);
      assert.equal(sameMinute.body.dispatch.created, false);
      const rows = await sql`
        SELECT entity, details->>'count' AS count FROM anomaly_events ORDER BY count`;
      assert.deepEqual(rows.map((r) => [r.entity, r.count]), [["approved", "60"], [
        "approved",
        "70",
      ]]);
    });
  },
);

Deno.test(
  "evaluate with dispatch: an id used again while PostgreSQL does not answer the read of its row answers 503 in time",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    // The row is stored; then PostgreSQL accepts and never answers (a hung server, a partition).
    const silent = startSilentServer();
    const hung = postgres(`postgres://postgres@127.0.0.1:${silent.port}/none`, { max: 1 });
    try {
      await withDetector({
        settings: { ioTimeoutMs: 1000 },
        store: (sql) => ({ ...createStore({ sql }), get: createStore({ sql: hung }).get }),
      }, async (ctx) => {
        const base = Math.floor(Date.now() / MIN) * MIN - 45 * MIN;
        await feedBaseline(ctx, base);
        const app = evaluateApp(ctx, { dispatchTimeoutMs: 3000 });
        const dispatch = () =>
          app.request("/api/alerts/evaluate", {
            method: "POST",
            headers: { authorization: `Bearer ${TOKEN}` },
            body: JSON.stringify({
              status: "approved",
              count: 60,
              timestamp: new Date(base + 40 * MIN + 30_000).toISOString(),
              dispatch: true,
              id: "order-8",
            }),
          });
        assert.equal((await dispatch()).status, 200);
        const started = Date.now();
        const again = await dispatch();
        const took = Date.now() - started;
        assert.equal(again.status, 503, await again.text());
        assert.ok(took < 5000, `answered after ${took} ms`);
      });
    } finally {
      await hung.end({ timeout: 0 });
      await silent.close();
    }
  },
);
