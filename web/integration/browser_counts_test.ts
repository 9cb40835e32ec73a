/**
 * The counters while the last hour cannot be read: "–", not numbers made up
 * from live alerts (Chromium).
 */
import assert from "node:assert/strict";
import { testAlert } from "@vigil/tools/testing/alert";
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
        await redis.publish(
          keys.alertsChannel(),
          JSON.stringify(testAlert({ id: "live-while-down", severity: "CRITICAL" })),
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
