/**
 * `/api/system/*` on the web without the services behind them: the rules
 * answer 503 without DETECTOR_URL and 502 when the detector is down or
 * answers something that is not its rules; the retention status says when no
 * run was recorded. (The success path, with a real detector and a real
 * retention run, is browser_system_test.ts.)
 */
import assert from "node:assert/strict";
import { freePort } from "@vigil/tools/testing/ports";
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

Deno.test("GET /api/system/rules answers 502 when the detector is down or odd", opts, async () => {
  await withWebApp(async ({ app }) => {
    const r = await get(app, "/api/system/rules");
    assert.equal(r.status, 502);
    assert.match(String(r.body.error), /Cannot reach the detector at DETECTOR_URL/);
    assert.equal((await get(app, "/api/system/retention")).body.detector_api, true);
  }, { detectorUrl: `http://127.0.0.1:${freePort()}` });

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
