/**
 * What a no-data alert looks like in the page: the detector's own core
 * (`checkStream`) raises the stream-level alert for a metrics stream that went
 * quiet, the row is stored as the detector stores it, and Chromium shows it in
 * the list filtered by rule and in its detail view
 * (`test-output/web/no-data.png`).
 */
import assert from "node:assert/strict";
import { checkStream, createStreamSilence } from "@vigil/detector/core/stream_silence";
import { loadStaticAssets } from "../static.ts";
import { launchBrowser, serveApp } from "./_browser.ts";
import { insertAnomalies, withWebApp } from "./_helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "a quiet stream's no_data alert in the list and the detail view (Chromium)",
  opts,
  async () => {
    const assets = await loadStaticAssets();
    await withWebApp(async ({ app, sql }) => {
      const now = Date.now();
      const lastAppend = now - 7 * 60_000;
      const state = createStreamSilence(now - 60 * 60_000);
      const config = { enabled: true, after: 5 * 60_000, severity: "CRITICAL" as const };
      const [finding] = checkStream(state, "metrics", lastAppend, now, config);
      assert.ok(finding?.kind === "firing", "the detector's core raises the stream alert");
      await insertAnomalies(sql, [{
        id: finding.id,
        detected_at: new Date(now),
        event_time: new Date(finding.eventTime),
        type: finding.type,
        rule: finding.rule,
        severity: finding.severity,
        entity: finding.entity,
        title: finding.title,
        message: finding.message,
        score: finding.score,
        details: finding.details,
      }]);
      const web = serveApp(app);
      const browser = await launchBrowser();
      const { page } = browser;
      try {
        await page.goto(`${web.base}/?rule=no_data`);
        const row = page.locator(`.row[data-id="${finding.id}"]`);
        await row.waitFor();
        assert.match(
          (await row.textContent()) ?? "",
          /No metrics at all for 5 min: the stream is quiet/,
        );
        await row.click();
        await page.waitForSelector(".detail .message");
        assert.match(
          (await page.textContent(".detail .message")) ?? "",
          /is the bridge or the producer down\?/,
        );
        await browser.screenshot("no-data.png");
      } finally {
        await browser.close();
        await web.close();
      }
    }, { assets });
  },
);
