/**
 * axe-core on the page's views (the list, the detail view, the Silence form, the token prompt,
 * the entity page, the API docs page) in light and dark colour schemes on a desktop, and on a
 * 390×844 phone: no serious or critical violation; in forced colours (Windows' high contrast) the
 * chart's legend and the open anomaly's row still show. One browser for the file.
 */
import assert from "node:assert/strict";
import axe from "axe-core";
import type { Page } from "playwright-core";
import { loadStaticAssets } from "../static.ts";
import { launchBrowser, serveApp } from "./_browser.ts";
import { insertAnomalies, withWebApp } from "./_helpers.ts";

// playwright and ioredis keep handles; everything is closed in finally.
const opts = { sanitizeOps: false, sanitizeResources: false };

interface AxeResult {
  violations: {
    id: string;
    impact: string | null;
    help: string;
    nodes: { target: unknown[]; failureSummary?: string }[];
  }[];
}

/** axe-core's serious and critical violations on the page as it is, one line each. */
async function serious(page: Page, view: string): Promise<string[]> {
  if (!await page.evaluate(() => "axe" in globalThis)) {
    await page.addScriptTag({ content: axe.source });
  }
  // Only the violations (passes and "needs review" take most of axe's time on the API docs).
  const r: AxeResult = await page.evaluate(() =>
    (globalThis as unknown as { axe: { run(o: unknown): Promise<AxeResult> } }).axe.run({
      resultTypes: ["violations"],
    })
  );
  return r.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) =>
    `${view}: ${v.impact} ${v.id} (${v.help}) at ${
      v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")
    }`
  );
}

Deno.test(
  "axe-core finds no serious or critical violation on the page's views (Chromium)",
  opts,
  async () => {
    const assets = await loadStaticAssets();
    await withWebApp(async ({ sql, app }) => {
      const now = Date.now();
      await insertAnomalies(
        sql,
        Array.from({ length: 12 }, (_, i) => ({
          id: `x${i}`,
          detected_at: new Date(now - (i + 1) * 60_000),
          type: (["logs", "metrics", "transactions"] as const)[i % 3]!,
          severity: (["CRITICAL", "WARNING", "INFO"] as const)[i % 3]!,
          entity: "checkout",
          details: { measure: "latency_ms", value: 640 + i, threshold: 500 },
          resolved_at: i % 4 === 0 ? new Date(now - i * 30_000) : null,
          acknowledged_at: i === 5 ? new Date(now - 10_000) : null,
        })),
      );
      const web = serveApp(app);
      const browser = await launchBrowser({ bypassCSP: true });
      const { page } = browser;
      const found: string[] = [];
      const scan = async (view: string) => found.push(...await serious(page, view));
      try {
        for (
          const [scheme, viewport] of [
            ["light", { width: 1360, height: 860 }],
            ["dark", { width: 1360, height: 860 }],
            // The phone's layout once (its colours are the desktop's).
            ["light", { width: 390, height: 844 }],
          ] as const
        ) {
          const at = `${scheme} ${viewport.width}px`;
          await page.emulateMedia({ colorScheme: scheme });
          await page.setViewportSize(viewport);
          await page.goto(`${web.base}/`);
          await page.waitForSelector('.row[data-id="x11"]');
          await page.waitForSelector(".chart");
          await scan(`${at} list`);
          await page.goto(`${web.base}/alerts/x1`);
          await page.waitForSelector(".detail .actions");
          await page.waitForSelector(".detail .sparks, .detail .detail-body p.muted");
          await scan(`${at} detail`);
          await page.click(".detail .actions button:text-is('Silence…')");
          await page.waitForSelector(".action-form fieldset");
          await scan(`${at} silence form`);
          // Acknowledge without a token: the prompt for it.
          await page.click(".detail .actions button:text-is('Acknowledge')");
          await page.fill("#ack-by", "erin");
          await page.click(".action-form button[type=submit]:text-is('Acknowledge')");
          await page.waitForSelector(".action-form .token-help");
          await scan(`${at} token prompt`);
          await page.goto(`${web.base}/entities/checkout?type=metrics`);
          await page.waitForSelector(".entity-anomalies .links");
          await scan(`${at} entity page`);
          await page.goto(`${web.base}/api/docs`);
          await page.waitForSelector("article.op");
          await scan(`${at} API docs`);
        }
        assert.deepEqual(found, []);
        // Windows' high contrast (forced colours) keeps the chart's bars in colour but took the
        // legend's swatches and the open anomaly's row highlight away.
        await page.emulateMedia({ colorScheme: "light", forcedColors: "active" });
        await page.setViewportSize({ width: 1360, height: 860 });
        await page.goto(`${web.base}/alerts/x1`);
        await page.waitForSelector('.row.selected[data-id="x1"]');
        await page.waitForSelector(".chart .bar.t-logs");
        const looks = await page.evaluate(() => {
          const style = (s: string) => getComputedStyle(document.querySelector(s)!);
          return {
            swatch: style(".legend .sw.t-logs").backgroundColor,
            bar: style(".chart .bar.t-logs").fill,
            selected: style(".row.selected").outlineStyle,
          };
        });
        assert.equal(looks.swatch, looks.bar);
        assert.notEqual(looks.selected, "none");
        assert.deepEqual(browser.errors.filter((e) => !/\b401\b/.test(e)), []);
      } finally {
        await browser.close();
        await web.close();
      }
    }, { assets, token: "browser-a11y-token-0123" });
  },
);
