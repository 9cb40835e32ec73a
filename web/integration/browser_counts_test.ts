/**
 * The counters while the last hour cannot be read: "–", not numbers made up
 * from live alerts (Chromium).
 */
import assert from "node:assert/strict";
import { loadStaticAssets } from "../static.ts";
import { launchBrowser, serveApp } from "./_browser.ts";
import { withWebApp } from "./_helpers.ts";
import { waitUntil } from "./_sse.ts";

Deno.test(
  'the counters stay "–" while the last hour cannot be read, live alerts or not (Chromium)',
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    const assets = await loadStaticAssets();
    await withWebApp(async ({ app, redis, keys, hub }) => {
      const web = serveApp(app);
      const browser = await launchBrowser();
      try {
        const { page } = browser;
        await page.route("**/api/stats*", (route) =>
          route.fulfill({
            status: 503,
            contentType: "application/json",
            body: JSON.stringify({ error: "Cannot read the last hour: database unreachable" }),
          }));
        await page.goto(web.base + "/");
        await page.waitForSelector('.live[data-state="live"]', { timeout: 15_000 });
        await waitUntil(() => hub.size === 1, "the page's live connection");
        const now = Date.now();
        await redis.publish(
          keys.alertsChannel(),
          JSON.stringify({
            id: "live-while-down",
            status: "firing",
            detected_at: new Date(now).toISOString(),
            event_time: new Date(now).toISOString(),
            type: "metrics",
            rule: "latency_high",
            severity: "CRITICAL",
            entity: "checkout",
            title: "High latency on checkout",
            message: "latency 2100 ms > 1000 ms",
            score: null,
            details: {},
            evidence: [],
            resolved_at: null,
            trace_id: null,
            stages: {},
          }),
        );
        await page.waitForSelector('.row[data-id="live-while-down"]', { timeout: 5000 });
        await page.waitForTimeout(500); // the live merge (150 ms) has run
        assert.equal(await page.textContent(".counter.sev-CRITICAL .n"), "–");
        assert.equal(await page.textContent(".counter.open .n"), "–");
      } finally {
        await browser.close();
        await web.close();
      }
    }, { assets });
  },
);
