/**
 * A browser whose clock is 10 minutes behind the server's (Chromium): the page keeps time by
 * the server's clock (the `Date` of its answers). It used to read the wrong last hour (the
 * newest 10 minutes missing from the counters and the chart) and showed a fresh anomaly detected
 * "in 9m".
 */
import assert from "node:assert/strict";
import { insertAnomalies, withBrowserPage } from "./_helpers.ts";

// playwright and ioredis keep handles; everything is closed in finally.
const opts = { sanitizeOps: false, sanitizeResources: false };

/** The page's `Date` runs `skewMs` off the machine's clock. */
function skewClock(skewMs: number) {
  const Real = Date;
  class Skewed extends Real {
    constructor(...args: unknown[]) {
      // deno-lint-ignore no-explicit-any
      super(...((args.length ? args : [Real.now() + skewMs]) as [any]));
    }
    static override now() {
      return Real.now() + skewMs;
    }
  }
  globalThis.Date = Skewed as DateConstructor;
}

Deno.test(
  "a browser clock 10 minutes behind: the last hour, its counters and 'ago' follow the server (Chromium)",
  opts,
  () =>
    withBrowserPage(async ({ sql, base, browser }) => {
      const now = Date.now();
      await insertAnomalies(sql, [
        { id: "fresh", detected_at: new Date(now - 90_000), severity: "CRITICAL" },
        { id: "old", detected_at: new Date(now - 65 * 60_000), severity: "WARNING" },
      ]);
      const { page } = browser;
      await page.addInitScript(skewClock, -10 * 60_000);
      await page.goto(base + "/");
      assert.ok(await page.evaluate(() => Date.now()) < Date.now() - 9 * 60_000);
      await page.waitForSelector('.row[data-id="fresh"]');
      const counter = (s: string) => page.textContent(`.counter.sev-${s} .n`);
      await page.waitForFunction(() =>
        document.querySelector(".counter.sev-CRITICAL .n")?.textContent !== "–"
      );
      assert.equal(await counter("CRITICAL"), "1");
      assert.equal(await counter("WARNING"), "0");
      assert.equal(await page.textContent('.row[data-id="fresh"] .time'), "1m ago");
      // The chart's last hour is the server's: one bar, in its second-to-last minute or so.
      assert.equal(await page.locator(".chart-card rect.t-metrics").count(), 1);
      assert.deepEqual(browser.errors, []);
    }),
);
