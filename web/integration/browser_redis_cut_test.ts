/**
 * The web's Redis subscription cut while pages are open (a TCP proxy between the hub's
 * subscriber and Redis): no live alert can reach them, so they must not say _Live_. Before, the
 * streams stayed open (heartbeats and all) and the badge said _Live_ through the whole outage,
 * also on a page opened meanwhile.
 */
import assert from "node:assert/strict";
import { startUrlProxy } from "@vigil/tools/testing/tcp_proxy";
import { TEST_REDIS_URL } from "@vigil/tools/testing/redis";
import { testAlert } from "@vigil/tools/testing/alert";
import { watchLiveStates } from "./_browser.ts";
import { withBrowserPage } from "./_helpers.ts";

Deno.test({
  name:
    "the page says Reconnecting… while the web's Redis subscription is cut, Live after (Chromium)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const proxy = startUrlProxy(TEST_REDIS_URL);
    try {
      await withBrowserPage(async ({ base, browser, hub, redis, keys }) => {
        try {
          const { page } = browser;
          await page.goto(base + "/");
          await page.waitForSelector('.live[data-state="live"]');
          const states = await watchLiveStates(page);
          proxy.cut();
          await states.seen("reconnecting");
          // Not back to "Live" while the subscription is cut: new streams are refused.
          const refused = await fetch(base + "/api/live");
          assert.equal(refused.status, 503);
          assert.match((await refused.json()).error, /live alerts are cut/);
          assert.equal(hub.cut, true);
          assert.equal(await page.locator(".live").getAttribute("data-state"), "reconnecting");
          await browser.screenshot("redis-cut.png");
          proxy.restore();
          await page.waitForSelector('.live[data-state="live"]', { timeout: 30_000 });
          await redis.publish(
            keys.alertsChannel(),
            JSON.stringify(testAlert({ id: "after-cut", title: "told after the cut" })),
          );
          await page.waitForSelector('.row[data-id="after-cut"]', { timeout: 10_000 });
        } finally {
          proxy.restore(); // the hub's closing waits on its subscriber
        }
      }, { subscriberUrl: proxy.url });
    } finally {
      await proxy.close();
    }
  },
});
