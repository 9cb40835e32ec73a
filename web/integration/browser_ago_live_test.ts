/**
 * A live alert's "ago" while the page's timers run late (a busy or throttled tab): the list
 * drew it against the clock of its last tick and showed an alert just detected "in 7s" (seen
 * with a live storm on a loaded machine). Chromium.
 */
import assert from "node:assert/strict";
import { testAlert } from "@vigil/tools/testing/alert";
import { loadStaticAssets } from "../static.ts";
import { launchBrowser, serveApp } from "./_browser.ts";
import { withWebApp } from "./_helpers.ts";
import { waitUntil } from "./_sse.ts";

/** Every interval of the page fires 20 times later than asked, as in a throttled tab. */
function lateTimers() {
  const real = globalThis.setInterval;
  globalThis.setInterval =
    ((fn: TimerHandler, ms?: number, ...args: unknown[]) =>
      real(fn, (ms ?? 0) * 20, ...args)) as typeof setInterval;
}

Deno.test(
  'a live alert detected just now reads "0s ago", not "in …", when the page\'s timers run late (Chromium)',
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    const assets = await loadStaticAssets();
    await withWebApp(async ({ app, redis, keys, hub }) => {
      const web = serveApp(app);
      const browser = await launchBrowser();
      try {
        const { page } = browser;
        await page.addInitScript(lateTimers);
        await page.goto(web.base + "/");
        await page.waitForSelector('.live[data-state="live"]', { timeout: 15_000 });
        await waitUntil(() => hub.size === 1, "the page's live connection");
        await page.waitForTimeout(7000); // past the list's 5 s tick, which has not come
        const now = new Date().toISOString();
        await redis.publish(
          keys.alertsChannel(),
          JSON.stringify(testAlert({ id: "just-now", detected_at: now, event_time: now })),
        );
        await page.waitForSelector('.row[data-id="just-now"]', { timeout: 5000 });
        const shown = await page.textContent('.row[data-id="just-now"] .time');
        assert.match(shown ?? "", /^\d+s ago$/); // "in 9s" before
      } finally {
        await browser.close();
        await web.close();
      }
    }, { assets });
  },
);
