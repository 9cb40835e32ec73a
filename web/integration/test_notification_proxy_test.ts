/**
 * `POST /api/notifications/test` on the web: the token first, then clear
 * answers when the notifier is not configured, not reachable or refuses.
 * (The success path, with the real notifier, is browser_notify_test.ts.)
 */
import assert from "node:assert/strict";
import { withWebApp } from "./_helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const TOKEN = "proxy-test-token-1";
const AUTH = { authorization: `Bearer ${TOKEN}` };

async function post(
  app: { request: (p: string, i: RequestInit) => Response | Promise<Response> },
  headers = AUTH,
) {
  const res = await app.request("/api/notifications/test", { method: "POST", headers });
  return { status: res.status, error: ((await res.json()) as { error?: string }).error ?? "" };
}

Deno.test("POST /api/notifications/test needs the token and NOTIFIER_URL", opts, async () => {
  await withWebApp(async ({ app }) => {
    assert.equal((await post(app, {} as typeof AUTH)).status, 401);
    const r = await post(app);
    assert.equal(r.status, 503);
    assert.match(r.error, /set NOTIFIER_URL/);
  }, { token: TOKEN });
});

Deno.test(
  "POST /api/notifications/test answers 502 when the notifier is down or refuses",
  opts,
  async () => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const closed = (l.addr as Deno.NetAddr).port;
    l.close();
    await withWebApp(async ({ app }) => {
      const r = await post(app);
      assert.equal(r.status, 502);
      assert.match(r.error, /Cannot reach the notifier at NOTIFIER_URL/);
    }, { token: TOKEN, notifierUrl: `http://127.0.0.1:${closed}` });

    const seen: string[] = [];
    const notifier = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
      seen.push(`${req.method} ${new URL(req.url).pathname} ${req.headers.get("authorization")}`);
      return Response.json({ error: "Cannot accept this request: missing or wrong bearer token" }, {
        status: 401,
      });
    });
    try {
      await withWebApp(async ({ app }) => {
        const r = await post(app);
        assert.equal(r.status, 502);
        assert.match(r.error, /answered 401: .*bearer token \(set the same VIGIL_API_TOKEN/);
      }, { token: TOKEN, notifierUrl: `http://127.0.0.1:${notifier.addr.port}/` });
      assert.deepEqual(seen, [`POST /api/test-notification Bearer ${TOKEN}`]);
    } finally {
      await notifier.shutdown();
    }
  },
);
