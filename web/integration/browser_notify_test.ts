/**
 * The notifications panel with the real notifier process: an inhibited
 * WARNING shows as "inhibited", and "Send test notification" shows each
 * channel's result (the email outbox accepts, a webhook answers 500). The
 * token is asked for first. Screenshot: test-output/web/test-notification.png.
 */
import assert from "node:assert/strict";
import type { Alert } from "@vigil/shared/schemas/alert";
import { spawnService } from "@vigil/tools/testing/services";
import { TEST_REDIS_URL } from "@vigil/tools/testing/redis";
import { loadStaticAssets } from "../static.ts";
import { stablePort } from "@vigil/tools/testing/ports";
import { launchBrowser, serveApp } from "./_browser.ts";
import { insertAnomalies, withWebApp } from "./_helpers.ts";
import { waitUntil } from "./_sse.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const TOKEN = "browser-notify-token-7";
const ROOT = new URL("../../", import.meta.url).pathname;

function alert(id: string, severity: Alert["severity"]): Alert {
  const now = new Date().toISOString();
  return {
    id,
    status: "firing",
    detected_at: now,
    event_time: now,
    type: "metrics",
    rule: "latency_high",
    severity,
    entity: "checkout",
    title: `${severity} latency on checkout`,
    message: "latency 1200 ms > 500 ms",
    score: 1200,
    details: { latency_ms: 1200, threshold_ms: 500 },
    evidence: [],
    resolved_at: null,
    trace_id: null,
    stages: {},
  };
}

Deno.test(
  "the notifications panel shows inhibited alerts and each channel's test notification result",
  opts,
  async () => {
    const assets = await loadStaticAssets();
    const port = stablePort(); // the service binds it seconds later
    // Under ./data: the notifier task may write there only.
    const outbox = `data/test-outbox-notify-${crypto.randomUUID().slice(0, 8)}`;
    const hook = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => new Response("maintenance", { status: 500 }),
    );
    await withWebApp(async ({ app, sql, redis, keys, url }) => {
      const web = serveApp(app);
      const notifier = await spawnService("notifier", {
        REDIS_URL: TEST_REDIS_URL,
        DATABASE_URL: url,
        VIGIL_PREFIX: keys.prefix,
        NOTIFIER_PORT: String(port),
        LOG_LEVEL: "info",
        GROUP_WAIT: "1s",
        OUTBOX_DIR: outbox,
        EMAIL_TO: "ops@example.com",
        WEBHOOK_URL: `http://127.0.0.1:${hook.addr.port}/hook`,
        VIGIL_API_TOKEN: TOKEN,
        RETRY_BASE: "10s",
      });
      const browser = await launchBrowser();
      try {
        await notifier.waitForLine((l) => l.msg === "notifier started", "notifier start");
        const alerts = [alert("crit-1", "CRITICAL"), alert("warn-1", "WARNING")];
        // As the detector does: the rows first, then the alerts on the stream.
        await insertAnomalies(
          sql,
          alerts.map((a) => ({
            ...a,
            detected_at: new Date(a.detected_at),
            event_time: new Date(a.event_time),
            resolved_at: null,
          })),
        );
        for (const a of alerts) {
          await redis.xadd(keys.alerts(), "*", "alert", JSON.stringify(a));
        }
        await waitUntil(async () => {
          const rows = await sql`SELECT 1 FROM notifier_alerts WHERE disposition = 'inhibited'`;
          return rows.length === 1;
        }, "the WARNING inhibited by the CRITICAL");

        const { page } = browser;
        await page.goto(web.base);
        await page.waitForSelector(".notify-card:not(.system-card) summary");
        // The panel loads once a minute: reload until it has the inhibited alert.
        await waitUntil(async () => {
          const text = (await page.textContent(".notify-totals")) ?? "";
          if (text.includes("1 inhibited")) return true;
          await page.reload();
          await page.waitForSelector(".notify-card:not(.system-card) summary");
          return false;
        }, "the panel showing the inhibited alert");
        await page.click(".notify-card:not(.system-card) summary");
        assert.match((await page.textContent(".notify-body")) ?? "", /1 inhibited/);
        // The routes in force, replayed by the notifier: one digest on email and webhook.
        assert.equal(await page.getAttribute(".notify-preview", "data-notifications"), "2");
        assert.match(
          (await page.textContent(".notify-preview")) ?? "",
          /the hour's 2 alerts make 2 notifications \(1 digest\)/,
        );

        // Without the token: the page says where it is; with it, each channel's result.
        await page.click("#test-notification");
        await page.waitForSelector('.test-notify .token-help[data-status="401"]');
        await page.fill(".test-notify .token-input", TOKEN);
        await page.click(".test-notify .token button[type=submit]");
        await page.click("#test-notification");
        await page.waitForSelector(".test-results li[data-channel=webhook]");
        assert.equal(
          await page.getAttribute(".test-results li[data-channel=email]", "data-ok"),
          "true",
        );
        assert.equal(
          await page.getAttribute(".test-results li[data-channel=webhook]", "data-ok"),
          "false",
        );
        assert.match(
          (await page.textContent(".test-results li[data-channel=webhook]")) ?? "",
          /failed: HTTP 500: maintenance \(temporary\)/,
        );
        assert.match(
          (await page.textContent(".test-results li[data-channel=email]")) ?? "",
          /sent \(\d+ ms\)/,
        );
        const files = [];
        for await (const e of Deno.readDir(`${ROOT}${outbox}`)) {
          if (e.name.startsWith("t-")) files.push(e.name);
        }
        assert.equal(files.length, 1, "the test email is in the outbox");
        await browser.screenshot("test-notification.png");

        // The WARNING's detail view says it was inhibited, and by which alert.
        await page.goto(`${web.base}/alerts/warn-1`);
        await page.waitForSelector(".detail .notifier-fate");
        assert.equal(
          await page.getAttribute(".detail .notifier-fate", "data-disposition"),
          "inhibited",
        );
        assert.match(
          (await page.textContent(".detail .notifier-fate dd")) ?? "",
          /^inhibited by crit-1 while that alert fires/,
        );
        assert.equal(await page.getAttribute(".detail .notifier-fate a", "href"), "/alerts/crit-1");
        await browser.screenshot("detail-inhibited.png");
        await page.goto(`${web.base}/alerts/crit-1`);
        await page.waitForSelector(".detail .message");
        assert.equal(
          await page.locator(".detail .notifier-fate").count(),
          0,
          "the CRITICAL was sent",
        );
        assert.deepEqual(browser.errors.filter((e) => !/status of 401/.test(e)), []);
      } finally {
        await browser.close();
        await notifier.stop();
        await web.close();
      }
    }, { assets, token: TOKEN, notifierUrl: `http://127.0.0.1:${port}` });
    await hook.shutdown();
    await Deno.remove(`${ROOT}${outbox}`, { recursive: true });
  },
);

Deno.test(
  "the test notification result names the recipients an email left out",
  opts,
  async () => {
    const assets = await loadStaticAssets();
    const warning = "SMTP mail:587 refused 1 of 2 recipients: gone@example.com (550 no such user)";
    // A notifier whose SMTP server refused one of the two recipients.
    const notifier = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
      if (new URL(req.url).pathname !== "/api/test-notification") {
        return Response.json({ error: "not here" }, { status: 404 });
      }
      return Response.json({
        digest_id: "t-1",
        sent_at: new Date().toISOString(),
        ok: true,
        results: [{ channel: "email", ok: true, warning, duration_ms: 41 }],
      });
    });
    try {
      await withWebApp(async ({ app }) => {
        const web = serveApp(app);
        const browser = await launchBrowser();
        try {
          const { page } = browser;
          await page.goto(web.base);
          await page.waitForSelector(".notify-card:not(.system-card) summary");
          await page.click(".notify-card:not(.system-card) summary");
          await page.click("#test-notification");
          await page.waitForSelector('.test-notify .token-help[data-status="401"]');
          await page.fill(".test-notify .token-input", TOKEN);
          await page.click(".test-notify .token button[type=submit]");
          await page.click("#test-notification");
          await page.waitForSelector(".test-results li[data-channel=email]");
          assert.equal(
            await page.getAttribute(".test-results li[data-channel=email]", "data-warning"),
            "true",
          );
          assert.match(
            (await page.textContent(".test-results li[data-channel=email]")) ?? "",
            /sent \(41 ms\), but SMTP mail:587 refused 1 of 2 recipients: gone@example\.com/,
          );
        } finally {
          await browser.close();
          await web.close();
        }
      }, { assets, token: TOKEN, notifierUrl: `http://127.0.0.1:${notifier.addr.port}` });
    } finally {
      await notifier.shutdown();
    }
  },
);
