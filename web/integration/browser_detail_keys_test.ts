/**
 * The detail view beside the list, by keyboard and links: Escape in a filter
 * field leaves the detail open; Escape after an acknowledgement took the row
 * out of the list puts focus in the list (there is no row to go back to);
 * the "inhibited by" link keeps the list's filters.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { loadStaticAssets } from "../static.ts";
import { launchBrowser, serveApp, type TestBrowser } from "./_browser.ts";
import { insertAnomalies, type WebTestContext, withWebApp } from "./_helpers.ts";

// playwright and ioredis keep handles; everything is closed in finally.
const opts = { sanitizeOps: false, sanitizeResources: false };
const TOKEN = "browser-detail-keys-token-3";

/** `fn` with a3 … a1 stored and a page on the app. */
async function withPage(
  fn: (ctx: WebTestContext, page: Page, browser: TestBrowser, base: string) => Promise<void>,
): Promise<void> {
  const assets = await loadStaticAssets();
  await withWebApp(async (ctx) => {
    const now = Date.now();
    await insertAnomalies(
      ctx.sql,
      [1, 2, 3].map((i) => ({
        id: `a${i}`,
        detected_at: new Date(now - i * 60_000),
        type: "logs" as const,
        entity: "api",
      })),
    );
    const web = serveApp(ctx.app);
    const browser = await launchBrowser();
    await browser.page.addInitScript((token) => {
      localStorage.setItem("vigil.token", token);
      localStorage.setItem("vigil.user", "carol");
    }, TOKEN);
    try {
      await fn(ctx, browser.page, browser, web.base);
      assert.deepEqual(browser.errors, []);
    } finally {
      await browser.close();
      await web.close();
    }
  }, { assets, token: TOKEN });
}

Deno.test(
  "Escape typed in a filter field leaves the detail view open (Chromium)",
  opts,
  async () => {
    await withPage(async (_ctx, page, _browser, base) => {
      await page.goto(`${base}/alerts/a2`);
      await page.waitForSelector(".detail h2:text('anomaly a2')");
      for (const field of ["#filter-rule", "#filter-entity"]) {
        await page.click(field);
        await page.keyboard.type("thr");
        await page.keyboard.press("Escape");
        assert.equal(await page.locator(".detail").count(), 1, `Escape in ${field}`);
        assert.equal(new URL(page.url()).pathname, "/alerts/a2");
        assert.equal(await page.inputValue(field), "thr");
        await page.fill(field, "");
      }
      // Outside a field, Escape still closes it.
      await page.click(".detail h2");
      await page.keyboard.press("Escape");
      await page.waitForSelector(".detail", { state: "detached" });
    });
  },
);

Deno.test(
  "Escape after an acknowledgement took the row out of the list puts focus in the list (Chromium)",
  opts,
  async () => {
    await withPage(async (_ctx, page, _browser, base) => {
      await page.goto(`${base}/?acknowledged=false`);
      await page.waitForSelector('.row[data-id="a3"]');
      await page.focus('.row[data-id="a2"]');
      await page.keyboard.press("Enter");
      await page.waitForSelector(".detail h2:text('anomaly a2')");
      await page.click(".detail .actions button:text-is('Acknowledge')");
      await page.fill("#ack-comment", "looking");
      await page.click(".action-form button[type=submit]");
      await page.waitForSelector(".detail .notice:text('Acknowledged.')");
      await page.waitForFunction(() => !document.querySelector('.row[data-id="a2"]'));
      await page.click(".detail h2");
      await page.keyboard.press("Escape");
      await page.waitForSelector(".detail", { state: "detached" });
      const focus = await page.evaluate(() => ({
        inList: Boolean(document.activeElement?.closest(".list")),
        id: (document.activeElement as HTMLElement | null)?.dataset.id ?? null,
      }));
      // The row now where it was: Enter opens it.
      assert.deepEqual(focus, { inList: true, id: "a3" });
      await page.keyboard.press("Enter");
      await page.waitForSelector(".detail h2:text('anomaly a3')");
    });
  },
);

Deno.test(
  "the detail's 'inhibited by' link keeps the list's filters (Chromium)",
  opts,
  async () => {
    await withPage(async ({ sql }, page, _browser, base) => {
      // The notifier took a1 in while a3 fired: inhibited.
      await sql`INSERT INTO notifier_alerts (stream_id, alert_id, status, type, rule, severity,
        entity, alert, disposition, inhibited_by, received_at)
      VALUES ('1-1', 'a1', 'firing', 'logs', 'threshold', 'WARNING', 'api', '{}',
        'inhibited', 'a3', now())`;
      const FILTERS = "?type=logs&acknowledged=false";
      await page.goto(`${base}/alerts/a1${FILTERS}`);
      await page.waitForSelector(".detail .notifier-fate a:text('a3')");
      await page.click(".detail .notifier-fate a");
      await page.waitForSelector(".detail h2:text('anomaly a3')");
      const url = new URL(page.url());
      assert.equal(url.pathname + url.search, `/alerts/a3${FILTERS}`);
      assert.equal(await page.inputValue("#filter-type"), "logs");
      assert.equal(await page.inputValue("#filter-acknowledged"), "false");
    });
  },
);
