/**
 * `/api/system/*` on the web without the services behind them: the rules
 * answer 503 without DETECTOR_URL and 502 when the detector is down or
 * answers something that is not its rules; the retention status says when no
 * run was recorded, and when the next run really comes after runs of the real
 * runner (done, budget spent, cut by shutdown). (The success path, with a real detector and a real
 * retention run, is browser_system_test.ts.)
 */
import assert from "node:assert/strict";
import { silentLogger } from "@vigil/tools/testing/log";
import { Registry } from "@vigil/shared/metrics";
import { createRetentionMetrics, runRetention } from "@vigil/shared/retention/run";
import { closedPort } from "@vigil/tools/testing/ports";
import { withWebApp } from "./_helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function get(
  app: { request: (p: string) => Response | Promise<Response> },
  path: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await app.request(path);
  return { status: res.status, body: await res.json() };
}

Deno.test("GET /api/system/* without DETECTOR_URL and before any retention run", opts, async () => {
  await withWebApp(async ({ app }) => {
    const rules = await get(app, "/api/system/rules");
    assert.equal(rules.status, 503);
    assert.match(String(rules.body.error), /set DETECTOR_URL to the detector's address/);
    const retention = await get(app, "/api/system/retention");
    assert.equal(retention.status, 200);
    assert.deepEqual(retention.body, { last_run: null, next_run_at: null, detector_api: false });
  });
});

Deno.test(
  "GET /api/system/retention: next_run_at is when the notifier runs it next",
  opts,
  async () => {
    await withWebApp(async ({ app, sql }) => {
      const HOUR = 3_600_000;
      const DAY = 24 * HOUR;
      const ages = { notifier_alerts: 30 * DAY };
      for (let i = 0; i < 25; i++) {
        await sql`INSERT INTO notifier_alerts (stream_id, alert_id, status, type, rule, severity,
        entity, alert, disposition, received_at) VALUES (${`${i}-0`}, 'a', 'firing', 'metrics',
        'r', 'WARNING', 'e', '{}', 'grouped', ${new Date(Date.now() - 40 * DAY)})`;
      }
      const run = (maxBatches: number, signal?: AbortSignal) =>
        runRetention(
          {
            sql,
            log: silentLogger(),
            metrics: createRetentionMetrics(new Registry()),
            now: Date.now,
          },
          { ages, batchSize: 10, maxBatches, intervalMs: HOUR },
          signal ? { signal } : {},
        );
      const status = async () => {
        const body = (await get(app, "/api/system/retention")).body as {
          last_run: { finished_at: string; unfinished: string[]; outcome: string };
          next_run_at: string | null;
        };
        const after = body.next_run_at === null
          ? null
          : Date.parse(body.next_run_at) - Date.parse(body.last_run.finished_at);
        return { ...body, after };
      };
      // Budget spent: a catch-up run follows after a short pause (10 s here: the run was quick).
      // Before: finished_at + the interval, an hour.
      await run(1);
      const spent = await status();
      assert.deepEqual(spent.last_run.unfinished, ["notifier_alerts"]);
      assert.equal(spent.after, 10_000);
      // Cut by shutdown: the notifier stopped, the next run is a minute after it starts again.
      const stop = new AbortController();
      stop.abort(new Error("shutdown"));
      await run(1, stop.signal);
      const cut = await status();
      assert.equal(cut.last_run.outcome, "interrupted");
      assert.equal(cut.next_run_at, null);
      // Every table finished: the interval.
      await run(10);
      const done = await status();
      assert.deepEqual([done.last_run.outcome, done.last_run.unfinished], ["done", []]);
      assert.equal(done.after, HOUR);
    });
  },
);

Deno.test("GET /api/system/rules answers 502 when the detector is down or odd", opts, async () => {
  await withWebApp(async ({ app }) => {
    const r = await get(app, "/api/system/rules");
    assert.equal(r.status, 502);
    assert.match(String(r.body.error), /Cannot reach the detector at DETECTOR_URL/);
    assert.equal((await get(app, "/api/system/retention")).body.detector_api, true);
  }, { detectorUrl: `http://127.0.0.1:${closedPort()}` });

  const odd = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => Response.json({ rules: "not the detector" }),
  );
  try {
    await withWebApp(async ({ app }) => {
      const r = await get(app, "/api/system/rules");
      assert.equal(r.status, 502);
      assert.match(String(r.body.error), /the detector's answer has an unexpected shape/);
    }, { detectorUrl: `http://127.0.0.1:${odd.addr.port}` });
  } finally {
    await odd.shutdown();
  }
});

Deno.test(
  "GET /api/system/rules answers 502 within 5 s when the detector hangs",
  opts,
  async () => {
    // Accepts connections and never answers, like a process stopped with SIGSTOP.
    const hung = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const c of hung) held.push(c);
    })();
    try {
      await withWebApp(async ({ app }) => {
        const started = performance.now();
        const r = await get(app, "/api/system/rules");
        const ms = performance.now() - started;
        assert.equal(r.status, 502);
        assert.match(String(r.body.error), /Cannot reach the detector at DETECTOR_URL/);
        assert.ok(ms >= 4_500 && ms < 8_000, `answered after ${Math.round(ms)} ms`);
      }, { detectorUrl: `http://127.0.0.1:${(hung.addr as Deno.NetAddr).port}` });
    } finally {
      hung.close();
      for (const c of held) c.close();
      await accepting.catch(() => {});
    }
  },
);
