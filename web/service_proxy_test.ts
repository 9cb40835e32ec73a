import assert from "node:assert/strict";
import { HTTPException } from "hono/http-exception";
import type { AppDeps } from "./deps.ts";
import { callService } from "./service_proxy.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** A config with only the service URLs and the token set. */
function config(vars: Record<string, string>): Pick<AppDeps, "config"> {
  return { config: { VIGIL_API_TOKEN: "t0ken", ...vars } as unknown as AppDeps["config"] };
}

Deno.test("callService() calls the endpoint by name, with the token and query", opts, async () => {
  const seen: string[] = [];
  const preview = {
    from: "a",
    to: "b",
    alerts: 3,
    digests: 1,
    notifications: 2,
    routes: [],
    truncated: false,
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const url = new URL(req.url);
    seen.push(`${req.method} ${url.pathname}${url.search} ${req.headers.get("authorization")}`);
    return Response.json(url.pathname === "/api/test-notification" ? { odd: true } : preview);
  });
  try {
    const deps = config({ NOTIFIER_URL: `http://127.0.0.1:${server.addr.port}` });
    assert.deepEqual(await callService(deps, "notificationPreview", { window: "2h" }), preview);
    await assert.rejects(
      callService(deps, "testNotification"),
      (e: HTTPException) =>
        e.status === 502 &&
        /^Cannot send a test notification: the notifier's answer/.test(e.message),
    );
    assert.deepEqual(seen, [
      "GET /api/notifications/preview?window=2h Bearer t0ken",
      "POST /api/test-notification Bearer t0ken",
    ]);
  } finally {
    await server.shutdown();
  }
});

Deno.test(
  "callService() keeps the warning of a channel that was accepted by some only",
  opts,
  async () => {
    const answer = {
      digest_id: "t-1",
      sent_at: "2025-03-01T10:20:00.000Z",
      ok: true,
      results: [{
        channel: "email",
        ok: true,
        warning: "SMTP mail:587 refused 1 of 2 recipients: gone@example.com (550 no such user)",
        duration_ms: 41,
      }],
    };
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => Response.json(answer),
    );
    try {
      const deps = config({ NOTIFIER_URL: `http://127.0.0.1:${server.addr.port}` });
      assert.deepEqual(await callService(deps, "testNotification"), answer);
    } finally {
      await server.shutdown();
    }
  },
);

Deno.test("callService() answers 503 naming the URL variable when it is unset", async () => {
  await assert.rejects(
    callService(config({}), "rules"),
    (e: HTTPException) =>
      e.status === 503 && e.message.startsWith("Cannot read the rules in force: set DETECTOR_URL"),
  );
});

Deno.test(
  "callService() keeps the path of a service URL behind a reverse proxy (NOTIFIER_URL=http://host/notifier/)",
  opts,
  async () => {
    const seen: string[] = [];
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
      seen.push(new URL(req.url).pathname);
      return Response.json({ rules: [] }, { status: 404 });
    });
    try {
      for (const base of ["/vigil/detector", "/vigil/detector/"]) {
        await callService(
          config({ DETECTOR_URL: `http://127.0.0.1:${server.addr.port}${base}` }),
          "rules",
        ).catch(() => {});
      }
      assert.deepEqual(seen, [
        "/vigil/detector/api/rules",
        "/vigil/detector/api/rules",
      ]);
    } finally {
      await server.shutdown();
    }
  },
);

Deno.test(
  "callService() passes on a 503 with Retry-After (a busy preview) as 503 with it, others as 502",
  opts,
  async () => {
    let answer = () =>
      Response.json(
        { error: "Cannot preview: another preview is running, retry in a few seconds" },
        {
          status: 503,
          headers: { "Retry-After": "5" },
        },
      );
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => answer(),
    );
    try {
      const deps = config({ NOTIFIER_URL: `http://127.0.0.1:${server.addr.port}` });
      const busy = await callService(deps, "notificationPreview", { window: "1h" }).then(
        () => assert.fail("accepted"),
        (e: HTTPException) => e,
      );
      assert.equal(busy.status, 503);
      const res = busy.getResponse();
      assert.equal(res.headers.get("retry-after"), "5");
      assert.deepEqual(await res.json(), {
        error:
          "Cannot preview notifications: the notifier answered 503: Cannot preview: another preview is running, retry in a few seconds",
      });
      // A 503 without Retry-After (the notifier has no token): a setup to fix, not to wait for.
      answer = () => Response.json({ error: "no token" }, { status: 503 });
      await assert.rejects(
        callService(deps, "testNotification"),
        (e: HTTPException) => e.status === 502 && /answered 503: no token/.test(e.message),
      );
    } finally {
      await server.shutdown();
    }
  },
);

/** A port nothing listens on (one just closed). */
function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test(
  "callService() says why the service cannot be reached (connection refused), not only 'fetch failed'",
  opts,
  async () => {
    // Deno's fetch rejects with "fetch failed" and the reason in `cause`: the 502 a stopped
    // notifier gave read "Cannot reach the notifier at NOTIFIER_URL: fetch failed".
    const deps = config({ NOTIFIER_URL: `http://127.0.0.1:${closedPort()}` });
    const e = await callService(deps, "notificationPreview", { window: "1h" }).then(
      () => assert.fail("accepted"),
      (e: HTTPException) => e,
    );
    assert.equal(e.status, 502);
    assert.match(e.message, /^Cannot reach the notifier at NOTIFIER_URL: /);
    assert.match(e.message, /Connection refused/);
    assert.doesNotMatch(e.message, /http:\/\//, "no URL in an answer a public reader gets");
  },
);
