import assert from "node:assert/strict";
import { silentLogger } from "@vigil/tools/testing/log";
import { createNotifierApi } from "./http.ts";
import type { Channel } from "./channels/channel.ts";
import type { NotifierStore } from "./store.ts";
import { loadConfig } from "./config.ts";
import type { ReplayAlert } from "./preview.ts";
import { alert } from "@vigil/tools/testing/batcher";
import { testNotificationResultSchema } from "@vigil/shared/schemas/notifier_api";

const NOW = Date.parse("2025-03-01T12:00:00Z");

type Filter = Parameters<NotifierStore["listNotifications"]>[0];

/** The API on a store that records the filters it was asked for. */
function api(
  options: {
    token?: string;
    channels?: Channel[];
    replay?: ReplayAlert[];
    env?: Record<string, string>;
    previewBudgetMs?: number;
  } = {},
) {
  const asked: Filter[] = [];
  const windows: { fromMs: number; toMs: number }[] = [];
  const config = loadConfig(options.env ?? {});
  const route = { ...config.defaultRoute, channels: ["email" as const] };
  const app = createNotifierApi({
    store: {
      listNotifications(filter) {
        asked.push(filter);
        return Promise.resolve([]);
      },
      alertsTakenIn({ fromMs, toMs }) {
        windows.push({ fromMs, toMs });
        return Promise.resolve({ alerts: options.replay ?? [], truncated: false });
      },
    },
    preview: {
      routes: [route],
      inhibitRules: [],
      flapThreshold: 4,
      flapWindowMs: 3_600_000,
      staleAfterMs: config.staleAfterMs,
    },
    now: () => NOW,
    log: silentLogger(),
    channels: options.channels ?? [],
    token: options.token,
    sendTimeoutMs: 1000,
    ...(options.previewBudgetMs ? { previewBudgetMs: options.previewBudgetMs } : {}),
  });
  return { app, asked, windows };
}

Deno.test("GET /api/notifications passes the validated filter to the store", async () => {
  const { app, asked } = api();
  const res = await app.request("/api/notifications?alert_id=al-1&status=sent&limit=5");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { notifications: [] });
  const all = await app.request("/api/notifications?digest_id=d-1");
  assert.equal(all.status, 200);
  await all.body?.cancel();
  assert.deepEqual(asked, [
    { alert_id: "al-1", status: "sent", limit: 5 },
    { digest_id: "d-1", limit: 100 },
  ]);
});

Deno.test("GET /api/notifications answers 400 to a bad query without asking the store", async (t) => {
  for (
    const [query, message] of [
      ["status=lost", /status: must be pending, sent or failed/],
      ["limit=0", /limit/],
      ["limit=abc", /^Cannot read query: limit: must be a whole number from 1 to 1000$/],
      ["limit=1e2", /limit: must be a whole number from 1 to 1000/],
      ["limit=5000", /limit/],
      ["alert_id=", /alert_id/],
      ["alertid=x", /alertid/],
      ["alert_id=%00", /must not contain control characters/],
      ["x=%00", /must not contain control characters/],
    ] as const
  ) {
    await t.step(query, async () => {
      const { app, asked } = api();
      const res = await app.request(`/api/notifications?${query}`);
      assert.equal(res.status, 400);
      assert.match((await res.json()).error, message);
      assert.equal(asked.length, 0);
    });
  }
});

Deno.test("the notifier's API answers 413 to a 1 MB body without reading it, and has no silences", async () => {
  const { app } = api();
  let pulled = 0;
  const chunk = new Uint8Array(1024);
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled >= 1024 * 1024) return controller.close();
      pulled += chunk.length;
      controller.enqueue(chunk);
    },
  });
  const res = await app.request("/api/notifications", { method: "POST", body });
  assert.equal(res.status, 413);
  assert.ok(pulled <= 20 * 1024, `read ${pulled} bytes of 1 MB`);
  // Silences are the web's: nothing here.
  assert.equal((await app.request("/api/silences")).status, 404);
  const post = await app.request("/api/silences", { method: "POST", body: "{}" });
  assert.equal(post.status, 404);
});

Deno.test("POST /api/test-notification needs the token and reports each channel's result", async () => {
  const seen: string[] = [];
  const channels: Channel[] = [
    {
      name: "email",
      send(digest) {
        seen.push(digest.kind);
        return Promise.resolve({ ok: true });
      },
    },
    {
      name: "webhook",
      send: () =>
        Promise.resolve({ ok: false, retryable: false, status: 404, error: "HTTP 404: " }),
    },
    { name: "discord", send: () => Promise.reject(new Error("boom")) },
  ];
  const off = api({ channels });
  const disabled = await off.app.request("/api/test-notification", { method: "POST" });
  assert.equal(disabled.status, 503);
  assert.match((await disabled.json()).error, /VIGIL_API_TOKEN/);
  const { app } = api({ channels, token: "test-token-123" });
  const refused = await app.request("/api/test-notification", {
    method: "POST",
    headers: { authorization: "Bearer wrong-token-1" },
  });
  assert.equal(refused.status, 401);
  await refused.body?.cancel();
  assert.deepEqual(seen, [], "nothing sent without the token");
  // A query it does not take (`?channel=email` sent to every channel) answers 400, sends nothing.
  const queried = await app.request("/api/test-notification?channel=email", {
    method: "POST",
    headers: { authorization: "Bearer test-token-123" },
  });
  assert.equal(queried.status, 400);
  assert.match((await queried.json()).error, /Unrecognized key: "channel"/);
  assert.deepEqual(seen, [], "nothing sent for a refused query");
  const res = await app.request("/api/test-notification", {
    method: "POST",
    headers: { authorization: "Bearer test-token-123" },
  });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.ok, false);
  assert.match(body.digest_id, /^t-/);
  assert.deepEqual(
    body.results.map((r: { channel: string; ok: boolean; status?: number; error?: string }) => [
      r.channel,
      r.ok,
      r.status,
      r.error,
    ]),
    [
      ["email", true, undefined, undefined],
      ["webhook", false, 404, "HTTP 404: "],
      ["discord", false, undefined, "Cannot send: boom"],
    ],
  );
  assert.deepEqual(seen, ["test"]);
});

Deno.test("POST /api/test-notification reports the recipients an email left out", async () => {
  const warning = "SMTP mail:587 refused 1 of 2 recipients: gone@example.com (550 no such user)";
  const channels: Channel[] = [{
    name: "email",
    send: () => Promise.resolve({ ok: true, warning }),
  }];
  const { app } = api({ channels, token: "test-token-123" });
  const res = await app.request("/api/test-notification", {
    method: "POST",
    headers: { authorization: "Bearer test-token-123" },
  });
  assert.equal(res.status, 200);
  const body = testNotificationResultSchema.parse(await res.json());
  assert.equal(body.ok, true);
  assert.deepEqual(body.results.map((r) => [r.channel, r.ok, r.warning]), [
    ["email", true, warning],
  ]);
});

Deno.test("GET /api/notifications/preview replays the window's alerts through the routes", async () => {
  const replay: ReplayAlert[] = Array.from({ length: 40 }, (_, i) => {
    const at = NOW - 3_600_000 + i * 90_000;
    const iso = new Date(at).toISOString();
    return {
      at,
      alert: alert({ id: `a${i}`, detected_at: iso, event_time: iso, entity: `svc${i}` }),
    };
  });
  const { app, windows } = api({ replay });
  const res = await app.request("/api/notifications/preview?window=1h");
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.deepEqual(windows, [{ fromMs: NOW - 3_600_000, toMs: NOW }]);
  // One group, a digest at 30 s then every 5 min while alerts keep coming: 12.
  assert.equal(body.alerts, 40);
  assert.equal(body.digests, 12);
  assert.deepEqual(body.routes, [
    { route: "default", channels: ["email"], digests: 12, notifications: 12, recorded: 0 },
  ]);
  const bad = await app.request("/api/notifications/preview?window=2d");
  assert.equal(bad.status, 400);
  await bad.body?.cancel();
});

Deno.test("GET /api/notifications/preview drops firing alerts after STALE_AFTER, as the notifier does", async () => {
  // One alert that never resolves, a day ago: a digest after GROUP_WAIT, a reminder an hour
  // later; at 2 h it is stale and leaves its group, so no more reminders.
  const at = NOW - 24 * 3_600_000;
  const iso = new Date(at).toISOString();
  const { app } = api({
    replay: [{ at, alert: alert({ id: "stuck", detected_at: iso, event_time: iso }) }],
    env: { REPEAT_INTERVAL: "1h", STALE_AFTER: "2h" },
  });
  const res = await app.request("/api/notifications/preview?window=24h");
  assert.equal(res.status, 200);
  assert.equal((await res.json()).digests, 2);
});

Deno.test("GET /api/notifications/preview of an alert storm neither holds the notifier's loop nor runs twice", async () => {
  // 2,000 alerts of distinct entities held at once: the replay costs seconds. The page asks for
  // it every minute; run in one go it held the notifier's loop (intake, digests, /health) all
  // along, and every open page started another one.
  const replay: ReplayAlert[] = Array.from({ length: 2000 }, (_, i) => {
    const at = NOW - 3_600_000 + i * 1_800;
    const iso = new Date(at).toISOString();
    return {
      at,
      alert: alert({ id: `s${i}`, detected_at: iso, event_time: iso, entity: `svc${i}` }),
    };
  });
  const { app, windows } = api({ replay, previewBudgetMs: 300 });
  let last = performance.now();
  let longest = 0;
  const beat = setInterval(() => {
    const t = performance.now();
    longest = Math.max(longest, t - last);
    last = t;
  }, 5);
  try {
    const started = performance.now();
    const [a, b] = await Promise.all([
      app.request("/api/notifications/preview?window=1h"),
      app.request("/api/notifications/preview?window=1h"),
    ]);
    const took = performance.now() - started;
    assert.equal(a.status, 503);
    assert.equal(b.status, 503);
    // Like every 503 that a retry may cure (a database out of reach, a deadline).
    assert.equal(a.headers.get("retry-after"), "5");
    assert.equal(b.headers.get("retry-after"), "5");
    assert.match((await a.json()).error, /too many alerts to replay .*shorter window/);
    await b.body?.cancel();
    assert.equal(windows.length, 1, "the second request shares the replay running");
    assert.ok(took < 2000, `answered after ${took.toFixed(0)} ms`);
    assert.ok(longest < 200, `the loop was held ${longest.toFixed(0)} ms`);
  } finally {
    clearInterval(beat);
  }
});

Deno.test("GET /api/notifications/preview of another window while one runs answers 503 with Retry-After", async () => {
  const replay: ReplayAlert[] = Array.from({ length: 2000 }, (_, i) => {
    const at = NOW - 3_600_000 + i * 1_800;
    const iso = new Date(at).toISOString();
    return {
      at,
      alert: alert({ id: `r${i}`, detected_at: iso, event_time: iso, entity: `s${i}` }),
    };
  });
  const { app } = api({ replay, previewBudgetMs: 200 });
  const first = app.request("/api/notifications/preview?window=1h");
  const other = await app.request("/api/notifications/preview?window=2h");
  assert.equal(other.status, 503);
  assert.equal(other.headers.get("retry-after"), "5");
  assert.match((await other.json()).error, /another preview is running/);
  await (await first).body?.cancel();
});
