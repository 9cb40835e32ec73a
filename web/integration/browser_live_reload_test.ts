/**
 * The live view reads its first page (at start, after a reconnection, on a
 * filter change) while live alerts keep arriving: an alert applied while the
 * page was on its way must not be lost when the page replaces the list.
 */
import assert from "node:assert/strict";
import type { Response, Route } from "playwright-core";
import type { Alert } from "@vigil/shared/schemas/alert";
import { testAlert } from "@vigil/tools/testing/alert";
import { insertAnomalies, withBrowserPage } from "./_helpers.ts";
import { assertEventually, waitUntil } from "./_sse.ts";

// playwright and ioredis keep handles; everything is closed in finally.
const opts = { sanitizeOps: false, sanitizeResources: false };

function alert(id: string, ms: number, resolvedAt: number | null = null): Alert {
  return testAlert({
    id,
    status: resolvedAt === null ? "firing" : "resolved",
    detected_at: new Date(ms).toISOString(),
    event_time: new Date(ms).toISOString(),
    rule: "threshold",
    severity: "WARNING",
    title: `anomaly ${id}`,
    message: `message of ${id}`,
    score: null,
    details: {},
    resolved_at: resolvedAt === null ? null : new Date(resolvedAt).toISOString(),
  });
}

Deno.test(
  "live alerts that arrive while the first page is read stay in the list (Chromium)",
  opts,
  async () => {
    await withBrowserPage(async ({ base, browser, sql, redis, keys, hub }) => {
      const now = Date.now();
      await insertAnomalies(sql, [{ id: "old-1", detected_at: new Date(now - 60_000) }]);
      const { page } = browser;
      // The first read of the list is answered by the server, then held back by the test.
      let release!: (held: { route: Route; response: Awaited<ReturnType<Route["fetch"]>> }) => void;
      const held = new Promise<Parameters<typeof release>[0]>((r) => release = r);
      let first = true;
      await page.route(/\/api\/anomalies\?/, async (route) => {
        if (!first) return await route.continue();
        first = false;
        release({ route, response: await route.fetch() });
      });
      await page.goto(base + "/");
      const { route, response } = await held;
      await page.waitForSelector('.live[data-state="live"]', { timeout: 15_000 });
      await waitUntil(() => hub.size === 1, "the page's live connection");
      // Published after the server read the page: a new anomaly, and old-1 resolved.
      const channel = keys.alertsChannel();
      await redis.publish(channel, JSON.stringify(alert("race-1", now)));
      await redis.publish(channel, JSON.stringify(alert("old-1", now - 60_000, now)));
      await page.waitForSelector('.row[data-id="race-1"]', { timeout: 5000 });
      const answered = page.waitForResponse((r: Response) => r.url().includes("/api/anomalies?"));
      await route.fulfill({ response });
      await answered;
      await page.waitForTimeout(500); // the page applies the answer
      const rows = () =>
        page.locator(".row").evaluateAll((els) =>
          els.map((e) => [e.getAttribute("data-id"), e.classList.contains("resolved")])
        );
      await assertEventually(rows, [["race-1", false], ["old-1", true]], "the page's rows");
      assert.deepEqual(browser.errors, []);
    });
  },
);

Deno.test(
  "an alert stored and published after the first read but before the live stream started shows (Chromium)",
  opts,
  async () => {
    await withBrowserPage(async ({ base, browser, sql, redis, keys, hub }) => {
      const now = Date.now();
      await insertAnomalies(sql, [{ id: "old-1", detected_at: new Date(now - 60_000) }]);
      const { page } = browser;
      // The tab holds its own live connection (no shared worker), so the test can hold it back:
      // a page whose stream starts after its list was read (a slow worker start, a busy server).
      await page.addInitScript(() => {
        delete (globalThis as { SharedWorker?: unknown }).SharedWorker;
      });
      let release!: () => void;
      const released = new Promise<void>((r) => release = r);
      await page.route(/\/api\/live$/, async (route) => {
        await released;
        await route.continue();
      });
      await page.goto(base + "/");
      await page.waitForSelector('.row[data-id="old-1"]', { timeout: 15_000 });
      assert.equal(hub.size, 0);
      // Stored then published (the detector's order) while the page has no stream yet.
      await insertAnomalies(sql, [{ id: "gap-1", detected_at: new Date(now) }]);
      await redis.publish(keys.alertsChannel(), JSON.stringify(alert("gap-1", now)));
      release();
      await page.waitForSelector('.live[data-state="live"]', { timeout: 15_000 });
      await waitUntil(() => hub.size === 1, "the page's live connection");
      await page.waitForSelector('.row[data-id="gap-1"]', { timeout: 5000 });
      assert.deepEqual(browser.errors, []);
    });
  },
);
