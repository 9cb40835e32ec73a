/**
 * Many tabs of the page in one browser (Chromium): they share one live connection. Browsers open
 * at most 6 HTTP/1.1 connections to a host, and with a live connection per tab the seventh tab of
 * the page never loaded (its index.html waited for a free connection). Without SharedWorker, each
 * tab connects itself, as before.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import type { Alert } from "@vigil/shared/schemas/alert";
import { insertAnomalies, type WebTestContext, withBrowserPage } from "./_helpers.ts";
import { waitUntil } from "./_sse.ts";

// playwright and ioredis keep handles; everything is closed in finally.
const opts = { sanitizeOps: false, sanitizeResources: false };

function tabAlert(id: string): Alert {
  const now = Date.now();
  return {
    id,
    status: "firing",
    detected_at: new Date(now).toISOString(),
    event_time: new Date(now - 500).toISOString(),
    type: "logs",
    rule: "user_spike",
    severity: "WARNING",
    entity: "user-tabs",
    title: `Log spike ${id}`,
    message: "10 events within 3 min (threshold 10)",
    score: 10,
    details: {},
    evidence: [],
    resolved_at: null,
    trace_id: null,
    stages: {},
  };
}

/** Store `alert` and publish it as the detector does. */
async function publish({ sql, redis, keys }: WebTestContext, alert: Alert): Promise<void> {
  await insertAnomalies(sql, [{
    ...alert,
    detected_at: new Date(alert.detected_at),
    event_time: new Date(alert.event_time),
    resolved_at: null,
  }]);
  await redis.publish(keys.alertsChannel(), JSON.stringify(alert));
}

const live = (page: Page, timeout = 10_000) =>
  page.waitForSelector('.live[data-state="live"]', { timeout });

Deno.test(
  "eight tabs of the page all load and share one live connection that brings each the news (Chromium)",
  opts,
  () =>
    withBrowserPage(async (ctx) => {
      const { base, browser } = ctx;
      const pages = [browser.page];
      for (let i = 1; i < 8; i++) pages.push(await browser.context.newPage());
      // Six tabs of the list and two of an entity's page, opened one after another.
      for (const [i, page] of pages.entries()) {
        await page.goto(base + (i % 4 === 3 ? "/entities/user-tabs" : "/"), { timeout: 10_000 });
        await live(page);
      }
      await waitUntil(() => ctx.hub.size === 1, "one live connection for the eight tabs");

      await publish(ctx, tabAlert("tabs-1"));
      const lists = pages.filter((_, i) => i % 4 !== 3);
      for (const page of lists) {
        await page.waitForSelector('.row[data-id="tabs-1"]', { timeout: 5000 });
      }
      // The entity's tabs read its state again.
      for (const page of pages.filter((_, i) => i % 4 === 3)) {
        await page.waitForSelector("text=Log spike tabs-1", { timeout: 5000 });
      }

      // The tab that opened the connection goes: the others keep it.
      for (const page of pages.splice(0, 7)) await page.close();
      const [last] = pages;
      await publish(ctx, tabAlert("tabs-2"));
      await last!.waitForSelector("text=Log spike tabs-2", { timeout: 5000 });
      assert.equal(ctx.hub.size, 1);
      assert.deepEqual(browser.errors, []);
      // The last tab gone, the connection goes too.
      await last!.close();
      await waitUntil(() => ctx.hub.size === 0, "the live connection to end with the last tab");
    }),
);

Deno.test(
  "without SharedWorker (Chrome on Android) each tab holds its own live connection (Chromium)",
  opts,
  () =>
    withBrowserPage(async (ctx) => {
      const { base, browser } = ctx;
      await browser.context.addInitScript(() => {
        delete (globalThis as { SharedWorker?: unknown }).SharedWorker;
      });
      const pages = [browser.page, await browser.context.newPage()];
      for (const page of pages) {
        await page.goto(base + "/");
        await live(page);
      }
      await waitUntil(() => ctx.hub.size === 2, "a live connection per tab");
      await publish(ctx, tabAlert("own-1"));
      for (const page of pages) {
        await page.waitForSelector('.row[data-id="own-1"]', { timeout: 5000 });
      }
      assert.deepEqual(browser.errors, []);
    }),
);

Deno.test(
  "a token saved in a tab connects the live view at once, not at its next retry (Chromium)",
  opts,
  () => {
    // The live stream's refusals, counted as the server answers them.
    let refused = 0;
    return withBrowserPage(async ({ base, browser }) => {
      const { page } = browser;
      await page.goto(`${base}/`);
      await page.waitForSelector(".list-card .token-input");
      // The fourth refusal: the next retry is 3-5 s away (500 ms doubled each time, +-25 %).
      await waitUntil(() => refused >= 4, "the live stream refused four times");
      await page.fill(".list-card .token-input", "tabs-token-0123456789");
      await page.click(".list-card .token button[type=submit]");
      await live(page, 2000);
      // Only the refusals before the token: the 401s of the list and of the live stream.
      assert.deepEqual(browser.errors.filter((e) => !/401 \(Unauthorized\)/.test(e)), []);
    }, {
      token: "tabs-token-0123456789",
      publicRead: false,
      observe: (req, res) => {
        if (new URL(req.url).pathname === "/api/live" && res.status === 401) refused++;
      },
    });
  },
);
