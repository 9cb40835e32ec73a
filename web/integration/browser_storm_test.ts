/**
 * An alert storm on the live view (Chromium): 6,000 live alerts in a few
 * seconds are applied in batches, the list keeps the newest 5,000 (the page
 * froze for over a minute on 20,000 when each alert copied the whole list),
 * and scrolling to the end still reaches the older anomalies behind the
 * dropped rows, also when that first read fails.
 */
import assert from "node:assert/strict";
import type { Alert } from "@vigil/shared/schemas/alert";
import { launchBrowser, serveApp, type TestBrowser } from "./_browser.ts";
import {
  type AnomalyFixture,
  insertAnomalies,
  type WebTestContext,
  withWebApp,
} from "./_helpers.ts";
import { waitUntil } from "./_sse.ts";
import { loadStaticAssets } from "../static.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function stormAlert(i: number, now: number): Alert {
  return {
    id: `storm-${String(i).padStart(5, "0")}`,
    status: "firing",
    detected_at: new Date(now + i).toISOString(),
    event_time: new Date(now + i - 500).toISOString(),
    type: "logs",
    rule: "user_spike",
    severity: "WARNING",
    entity: `user-${i}`,
    title: `Log spike for user user-${i}`,
    message: "10 events within 3 min (threshold 10)",
    score: 10,
    details: {},
    evidence: [],
    resolved_at: null,
    trace_id: null,
    stages: {},
  };
}

/** What a storm test gets: the web app's context, the page's base URL, Chromium, the start time. */
interface StormContext extends WebTestContext {
  base: string;
  browser: TestBrowser;
  now: number;
}

/** Run `fn` with `rows(now)` stored, the web app served and Chromium open on nothing yet. */
async function withStormPage(
  rows: (now: number) => AnomalyFixture[],
  fn: (ctx: StormContext) => Promise<void>,
): Promise<void> {
  const assets = await loadStaticAssets();
  await withWebApp(async (ctx) => {
    const now = Date.now();
    await insertAnomalies(ctx.sql, rows(now));
    const { base, close } = serveApp(ctx.app);
    const browser = await launchBrowser();
    try {
      await fn({ ...ctx, base, browser, now });
    } finally {
      await browser.close();
      await close();
    }
  }, { assets });
}

/** Publish storm alerts `from` … `to - 1` (with `over` on each) live, 500 per pipeline. */
async function publishStorm(
  { redis, keys, now }: StormContext,
  from: number,
  to: number,
  over: Partial<Alert> = {},
): Promise<void> {
  for (let i = from; i < to; i += 500) {
    const p = redis.pipeline();
    for (let j = i; j < Math.min(i + 500, to); j++) {
      p.publish(keys.alertsChannel(), JSON.stringify({ ...stormAlert(j, now), ...over }));
    }
    await p.exec();
  }
}

Deno.test(
  "the live view stays responsive in an alert storm and still pages to older rows",
  opts,
  async () => {
    await withStormPage(
      (now) =>
        Array.from({ length: 30 }, (_, i) => ({
          id: `before-${String(i).padStart(2, "0")}`,
          detected_at: new Date(now - 3_600_000 - i * 1000),
          title: `before the storm ${i}`,
        })),
      async (ctx) => {
        const { base, browser, hub } = ctx;
        const { page } = browser;
        await page.goto(base + "/");
        await page.waitForSelector('.row[data-id="before-00"]', { timeout: 10_000 });
        await waitUntil(() => hub.size === 1, "the page's live connection");
        await publishStorm(ctx, 0, 6000);
        await page.waitForSelector('.row[data-id="storm-05999"]', { timeout: 15_000 });
        // The newest 5,000 are kept; the rest (and the rows before the storm) are behind the end.
        assert.match((await page.textContent(".list-foot .count")) ?? "", /^5000\+ shown$/);
        assert.equal(browser.errors.length, 0, browser.errors.join("\n"));
        // Scrolling to the end loads from the last row shown: the rows before the storm come back.
        // The first such read fails (503, Retry-After 1): the page says so and asks again by
        // itself instead of losing its way to the older rows. The second answers after 600 ms, as
        // on a busy machine: the scrolling goes on meanwhile.
        let failedOnce = false;
        await page.route("**/api/anomalies?*", async (route) => {
          if (new URL(route.request().url()).searchParams.has("to")) {
            if (!failedOnce) {
              failedOnce = true;
              return await route.fulfill({
                status: 503,
                headers: { "retry-after": "1", "content-type": "application/json" },
                body: JSON.stringify({ error: "database unavailable" }),
              });
            }
            await new Promise((r) => setTimeout(r, 600));
          }
          await route.continue();
        });
        const deadline = Date.now() + 20_000;
        let sawNote = false;
        while (Date.now() < deadline) {
          await page.evaluate(() => {
            const list = document.querySelector(".list")!;
            list.scrollTop = list.scrollHeight;
          });
          await page.waitForTimeout(200);
          const notes = await page.locator(".list-card .error").allTextContents();
          sawNote ||= notes.some((t) => t.startsWith("Cannot load older anomalies: database"));
          // The list renders only the rows in view: at the end, the oldest row of all.
          if (await page.locator('.row[data-id="before-29"]').count() > 0) break;
        }
        const state = `footer "${await page.textContent(".list-foot")}", notes ${
          JSON.stringify(await page.locator(".list-card .error").allTextContents())
        }`;
        assert.ok(failedOnce, `no read with "to" after the storm (${state})`);
        assert.ok(sawNote, `the failed read was not shown (${state})`);
        assert.equal(await page.locator('.row[data-id="before-29"]').count(), 1, state);
        assert.match(state, /footer "5030 shown"/, "the 5,000 kept and the 30 from before");
        assert.equal(await page.locator(".list-card .error").count(), 0, state);
      },
    );
  },
);

Deno.test(
  "an entity page reads its entity again at most once a second in a storm of alerts about it",
  opts,
  async () => {
    await withStormPage(
      (now) => [{ id: "e-before", detected_at: new Date(now - 60_000), entity: "checkout" }],
      async (ctx) => {
        const { base, browser, hub, sql, redis, keys, now } = ctx;
        const { page } = browser;
        let reads = 0;
        page.on("request", (r) => {
          if (new URL(r.url()).pathname === "/api/entities/checkout") reads++;
        });
        await page.goto(base + "/entities/checkout");
        await page.waitForSelector('a[data-id="e-before"]', { timeout: 10_000 });
        await waitUntil(() => hub.size === 1, "the page's live connection");
        const before = reads;
        await publishStorm(ctx, 0, 2000, { entity: "checkout" });
        // The last alert of the storm is about a row stored after every read so far began:
        // the merged reads still end with one that shows it.
        await insertAnomalies(sql, [{
          id: "e-last",
          detected_at: new Date(now),
          entity: "checkout",
        }]);
        await redis.publish(
          keys.alertsChannel(),
          JSON.stringify({ ...stormAlert(2000, now), id: "e-last", entity: "checkout" }),
        );
        await page.waitForSelector('a[data-id="e-last"]', { timeout: 15_000 });
        await page.waitForTimeout(1500);
        const during = reads - before;
        assert.ok(during >= 1 && during <= 10, `${during} reads of the entity for 2,001 alerts`);
        assert.equal(browser.errors.length, 0, browser.errors.join("\n"));
      },
    );
  },
);
