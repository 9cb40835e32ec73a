import assert from "node:assert/strict";
import { simpleParser } from "mailparser";
import type { Alert } from "@vigil/shared/schemas/alert";
import type { Digest } from "../../notifier/digest.ts";
import { digestHtml } from "../../notifier/render.ts";
import { spawnService } from "@vigil/tools/testing/services";
import { TEST_REDIS_URL } from "@vigil/tools/testing/redis";
import { loadStaticAssets } from "../static.ts";
import { launchBrowser, scrollsSideways, serveApp } from "./_browser.ts";
import { insertAnomalies, withWebApp } from "./_helpers.ts";
import { waitUntil } from "./_sse.ts";

// playwright, ioredis and the notifier process keep handles; everything is closed in finally.
const opts = { sanitizeOps: false, sanitizeResources: false };
const ROOT = new URL("../../", import.meta.url).pathname;
// An id that needs encoding in a URL: the link and the page must agree on it.
const ID = "anom 7f3c/checkout";

function digestAlert(now: number): Alert {
  return {
    id: ID,
    status: "firing",
    detected_at: new Date(now - 60_000).toISOString(),
    event_time: new Date(now - 61_000).toISOString(),
    type: "metrics",
    rule: "metric_score",
    severity: "CRITICAL",
    entity: "checkout",
    title: "Unusual latency_ms on checkout",
    message: "latency_ms = 912 scored 0.9731 (expected 280.00 .. 410.00)",
    score: 0.9731,
    details: { measure: "latency_ms", value: 912, expected_low: 280, expected_high: 410 },
    evidence: [],
    resolved_at: null,
    trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
    stages: {},
  };
}

/** The newest `.eml` of `dir`, once there is one. */
async function firstEmail(dir: string): Promise<Uint8Array> {
  let file: string | undefined;
  await waitUntil(async () => {
    try {
      for await (const e of Deno.readDir(dir)) if (e.name.endsWith(".eml")) file = e.name;
    } catch { /* not made yet */ }
    return file !== undefined;
  }, "the notifier's email in the outbox");
  return await Deno.readFile(`${dir}/${file}`);
}

Deno.test(
  "a 'view' link of a real email digest opens the anomaly; its entity page works on a phone",
  opts,
  async () => {
    const assets = await loadStaticAssets();
    const outbox = `data/test-outbox-web-${crypto.randomUUID().slice(0, 8)}`;
    await withWebApp(async ({ app, sql, redis, keys, url }) => {
      const now = Date.now();
      const alert = digestAlert(now);
      await insertAnomalies(sql, [
        {
          ...alert,
          detected_at: new Date(alert.detected_at),
          event_time: new Date(alert.event_time),
          resolved_at: null,
        },
        // Older anomalies of the same entity, resolved; one of another entity.
        ...Array.from({ length: 6 }, (_, i) => ({
          id: `co-${i}`,
          detected_at: new Date(now - (i + 2) * 600_000),
          entity: "checkout",
          type: i % 2 ? "logs" as const : "metrics" as const,
          rule: i % 2 ? "error_rate" : "threshold",
          severity: "WARNING" as const,
          title: i % 2 ? "error rate 9% (baseline 0.8%)" : "p99 latency above 500 ms",
          resolved_at: new Date(now - (i + 2) * 600_000 + 120_000),
        })),
        { id: "other-1", detected_at: new Date(now - 90_000), entity: "search" },
      ]);
      // The detector's cache for checkout, with the band it expected (ts:score:value:low:high).
      for (const [measure, base] of [["latency_ms", 330], ["error_rate", 0.01]] as const) {
        const args: (string | number)[] = [];
        for (let i = 0; i < 90; i++) {
          const ts = now - (90 - i) * 30_000;
          const spike = measure === "latency_ms" && i === 88 ? 580 : 0;
          const value = base * (1 + 0.12 * Math.sin(i / 5)) + spike;
          args.push(ts, `${ts}:${spike ? 0.97 : 0.1}:${value}:${base * 0.82}:${base * 1.24}`);
        }
        await redis.zadd(keys.scores("metrics", "checkout", measure), ...args);
        await redis.sadd(keys.scoreMeasures("metrics"), measure); // as the detector writes it
      }

      const web = serveApp(app);
      // The real notifier, as `deno task notifier` runs it, emailing into an outbox folder.
      const notifier = await spawnService("notifier", {
        REDIS_URL: TEST_REDIS_URL,
        DATABASE_URL: url,
        VIGIL_PREFIX: keys.prefix,
        NOTIFIER_PORT: "0",
        LOG_LEVEL: "info",
        GROUP_WAIT: "1s",
        OUTBOX_DIR: outbox,
        EMAIL_TO: "ops@example.com",
        WEB_BASE_URL: web.base,
      });
      const browser = await launchBrowser();
      try {
        await notifier.waitForLine((l) => l.msg === "notifier started", "notifier start");
        await redis.xadd(keys.alerts(), "*", "alert", JSON.stringify(alert));
        const mail = await simpleParser(Buffer.from(await firstEmail(`${ROOT}${outbox}`)));
        const html = String(mail.html);
        const link = /<a href="([^"]+)">view<\/a>/.exec(html)?.[1]?.replaceAll("&amp;", "&");
        assert.equal(link, `${web.base}/alerts/${encodeURIComponent(ID)}`);
        assert.ok(mail.text?.includes(link!), "the text part has the same link");
        await waitUntil(async () => {
          const [r] = await sql`SELECT count(*)::int AS n FROM notifications WHERE status = 'sent'`;
          return r!.n === 1;
        }, "the notification recorded as sent");
        await notifier.stop();

        // 0. The digest as a mail client shows it (test-output/web/digest.png).
        const { page } = browser;
        await page.setContent(html);
        const shown = (await page.textContent("body")) ?? "";
        for (const text of [alert.message, alert.rule, "Value vs threshold", "view"]) {
          assert.ok(shown.includes(text), `the digest shows ${text}`);
        }
        await browser.screenshot("digest.png", { fullPage: true });

        // 1. The link opens the page on the anomaly's detail view.
        await page.goto(link!);
        await page.waitForSelector(".detail .message");
        assert.equal(await page.textContent(".detail h2"), alert.title);
        assert.equal(await page.textContent(".detail .message"), alert.message);
        assert.equal(new URL(page.url()).pathname, `/alerts/${encodeURIComponent(ID)}`);
        await page.waitForSelector(".detail .spark svg path.band-series");
        assert.equal(await page.locator("#app .boot").count(), 0, "placeholder gone");
        assert.ok(!(await page.textContent("#app"))?.includes("Loading Vigil"));
        // The panel shows what the notifier just did, from its tables.
        await page.click(".notify-card:not(.system-card) summary");
        const row = page.locator('.notify-table tr[data-route="default"][data-channel="email"]');
        assert.equal(await row.locator("td.sent").textContent(), "1");
        assert.equal(await row.locator("td.planned").textContent(), "1");
        // One of each is said in the singular: "1 digest", not "1 digests".
        assert.match(
          (await page.textContent(".notify-totals")) ?? "",
          /1 sent · 0 pending · 0 failed · 1 digest(?!s)/,
        );
        await page.click(".notify-card:not(.system-card) summary");
        await browser.screenshot("detail-from-digest.png");

        // 2. The entity page, linked from the detail view.
        await page.click(".detail .facts a.entity-link");
        await page.waitForURL(/\/entities\/checkout$/);
        await page.waitForSelector(".entity-state .state");
        assert.equal(await page.textContent(".entity-name"), "checkout");
        assert.equal(await page.getAttribute(".entity-state .state", "data-state"), "firing");
        assert.equal(await page.textContent(".open-count"), "1 of 7 anomalies");
        assert.match((await page.textContent(".last-seen")) ?? "", / UTC \((\d+s|1m) ago\)$/);
        assert.equal(await page.locator(".entity-series figure.spark").count(), 2);
        assert.equal(await page.locator(".entity-series path.band-series").count(), 2);
        assert.deepEqual(
          await page.locator(".entity-anomalies a.alink").evaluateAll((els) =>
            els.map((e) => e.getAttribute("data-id"))
          ),
          [ID, "co-0", "co-1", "co-2", "co-3", "co-4", "co-5"],
        );
        await browser.screenshot("entity.png", { fullPage: true });
        // One type only.
        await page.click('.crumbs a:text("logs")');
        await page.waitForURL(/\?type=logs$/);
        await page.waitForFunction(() => document.querySelectorAll("a.alink").length === 3);
        assert.equal(await page.getAttribute(".entity-state .state", "data-state"), "resolved");

        // 3. On a phone: no sideways scrolling, and its anomalies open their detail view.
        await page.setViewportSize({ width: 390, height: 844 });
        await page.goto(`${web.base}/entities/checkout`);
        await page.waitForSelector(".entity-series figure.spark");
        assert.equal(await scrollsSideways(page), false, "the entity page fits 390 px");
        await browser.screenshot("entity-phone.png", { fullPage: true });
        await page.click(`a.alink[data-id="co-1"]`);
        await page.waitForSelector(".detail .message");
        assert.equal(new URL(page.url()).pathname, "/alerts/co-1");
        // From the list too: the row's entity links to its page.
        await page.click(".detail .close");
        await page.click('.row[data-id="other-1"] a.entity-link');
        await page.waitForURL(/\/entities\/search$/);
        await page.waitForSelector(".entity-state .state");
        assert.equal(await scrollsSideways(page), false);
        assert.deepEqual(browser.errors, []);
      } finally {
        await browser.close();
        await notifier.stop();
        await web.close();
        await Deno.remove(`${ROOT}${outbox}`, { recursive: true }).catch(() => {});
      }
    }, { assets });
  },
);

Deno.test(
  "an email digest keeps its 'view' links in sight when a log line carries a long URL",
  opts,
  async () => {
    // A log line quoting a URL and a user id of 128 characters, neither with a place to break:
    // the table grew to 3,126 px in an 800 px window and every "view" link was off-screen.
    const now = Date.parse("2025-03-01T10:20:00Z");
    const base = digestAlert(now);
    const url = `https://api.example.com/v1/payments/${"4f0c9a1e".repeat(30)}?trace=1`;
    const digest: Digest = {
      id: "g-wide-1",
      kind: "digest",
      route: "default",
      groupKey: "default|",
      groupLabels: {},
      createdAt: now,
      channels: ["email"],
      flapping: [],
      streamIds: [],
      alerts: [
        { ...base, id: "w1", rule: "failed_message", message: `GET ${url} failed` },
        { ...base, id: "w2", entity: `user_${"9".repeat(123)}` },
      ].map((a) => ({ ...a, isNew: true, flapping: false, resolvedAfterMs: null })),
    };
    const browser = await launchBrowser({ viewport: { width: 800, height: 900 } });
    try {
      const { page } = browser;
      await page.setContent(digestHtml(digest, { webBaseUrl: "http://web" }));
      assert.equal(await scrollsSideways(page), false, "the digest fits 800 px");
      const rights = await page.locator("a").evaluateAll((links) =>
        links.map((l) => l.getBoundingClientRect().right)
      );
      assert.equal(rights.length, 2);
      for (const r of rights) assert.ok(r <= 800, `a "view" link ends at ${r} px`);
      assert.ok((await page.textContent("body"))?.includes(url), "the URL is shown whole");
      await browser.screenshot("digest-long-text.png", { fullPage: true });
    } finally {
      await browser.close();
    }
  },
);
