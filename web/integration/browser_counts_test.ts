/**
 * The counters while the last hour cannot be read: "–", not numbers made up
 * from live alerts (Chromium).
 */
import assert from "node:assert/strict";
import { testAlert } from "@vigil/tools/testing/alert";
import { loadStaticAssets } from "../static.ts";
import { launchBrowser, serveApp, watchLiveStates } from "./_browser.ts";
import { insertAnomalies, withWebApp } from "./_helpers.ts";
import { assertEventually, waitUntil } from "./_sse.ts";

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

Deno.test(
  "the open counter goes down when a live alert of the last hour resolves, once, also after a reconnection (Chromium)",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    const assets = await loadStaticAssets();
    await withWebApp(async ({ app, sql, redis, keys, hub, subscriber }) => {
      const now = Date.now();
      await insertAnomalies(sql, [
        { id: "listed-open", detected_at: new Date(now - 5 * 60_000) },
        { id: "older-open", detected_at: new Date(now - 2 * 3_600_000) }, // not in the last hour
      ]);
      const detected = new Map<string, number>();
      // As the detector does: stored, then published.
      const fire = async (id: string) => {
        const ms = Date.now();
        detected.set(id, ms);
        await insertAnomalies(sql, [{ id, detected_at: new Date(ms) }]);
        await publish(id, ms, null);
      };
      const resolve = async (id: string, ms = detected.get(id)!) => {
        await sql`UPDATE anomaly_events SET resolved_at = now() WHERE id = ${id}`;
        await publish(id, ms, Date.now());
      };
      const publish = (id: string, ms: number, resolvedMs: number | null) =>
        redis.publish(
          keys.alertsChannel(),
          JSON.stringify(testAlert({
            id,
            status: resolvedMs === null ? "firing" : "resolved",
            severity: "WARNING",
            detected_at: new Date(ms).toISOString(),
            event_time: new Date(ms).toISOString(),
            resolved_at: resolvedMs === null ? null : new Date(resolvedMs).toISOString(),
          })),
        );
      const web = serveApp(app);
      const browser = await launchBrowser();
      try {
        const { page } = browser;
        const counter = (name: string) => page.textContent(`.counter.${name} .n`);
        const countersAre = async (open: number, warning: number, what: string) => {
          await page.waitForTimeout(500); // the live merge (150 ms) has run
          // On a loaded machine it may run later: read until it shows, for a while.
          await assertEventually(
            async () => [await counter("open"), await counter("sev-WARNING")],
            [String(open), String(warning)],
            what,
          );
        };
        await page.goto(web.base + "/");
        await page.waitForSelector('.live[data-state="live"]', { timeout: 15_000 });
        await waitUntil(() => hub.size === 1, "the page's live connection");
        await page.waitForSelector('.row[data-id="listed-open"]');
        await countersAre(1, 1, "read at start");

        await fire("live-1");
        await countersAre(2, 2, "a live firing alert is open");
        await resolve("live-1");
        await countersAre(1, 2, "its resolution closes it");
        await resolve("listed-open", now - 5 * 60_000);
        await countersAre(0, 2, "a listed row resolves");
        await resolve("older-open", now - 2 * 3_600_000);
        await countersAre(0, 2, "not counted in the last hour: unchanged");
        await fire("live-2");
        await countersAre(1, 3, "live-2 is open");

        // The subscription is cut and back at once: the web ends the stream, the page
        // reconnects and reads the last hour again.
        const reloaded = page.waitForResponse((r) => r.url().includes("/api/stats"));
        const states = await watchLiveStates(page);
        subscriber.disconnect(true);
        await states.seen("reconnecting");
        await page.waitForSelector('.live[data-state="live"]', { timeout: 15_000 });
        await reloaded;
        await waitUntil(() => hub.size === 1, "the page's live connection again");
        await countersAre(1, 3, "the reload reads the same");
        await resolve("live-2");
        await countersAre(0, 3, "resolved after the reload");
        // A resolution the page already has (told again, or read with the list): no change.
        await publish("live-2", detected.get("live-2")!, Date.now());
        await publish("live-1", detected.get("live-1")!, Date.now());
        await countersAre(0, 3, "a resolution told again changes nothing");
        assert.deepEqual(browser.errors.filter((e) => !/live|stream|network/i.test(e)), []);
      } finally {
        await browser.close();
        await web.close();
      }
    }, { assets });
  },
);
