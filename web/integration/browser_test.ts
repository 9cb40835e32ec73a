import assert from "node:assert/strict";
import { serve } from "@vigil/shared/http/serve";
import { silentLogger } from "@vigil/tools/testing/log";
import type { Alert } from "@vigil/shared/schemas/alert";
import { archiveLine, objectKey, progressKey } from "@vigil/archive/format";
import { createDirStore } from "@vigil/archive/store";
import { createDirLister } from "../archive_lookup.ts";
import { loadStaticAssets } from "../static.ts";
import { cuttable, launchBrowser, watchLiveStates } from "./_browser.ts";
import { insertAnomalies, withWebApp } from "./_helpers.ts";
import { waitUntil } from "./_sse.ts";
import { gzip } from "@vigil/tools/testing/archive";

// playwright and ioredis keep handles the sanitizers would flag; everything is closed in finally.
const opts = { sanitizeOps: false, sanitizeResources: false };
const TOKEN = "browser-test-token-42";
const XSS = `<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">`;

function liveAlert(id: string, now: number): Alert {
  return {
    id,
    status: "firing",
    detected_at: new Date(now).toISOString(),
    event_time: new Date(now - 800).toISOString(),
    type: "transactions",
    rule: "amount_spike",
    severity: "CRITICAL",
    entity: "user-4711",
    title: "Transaction amount 42x the user's median",
    message: "amount 12,480.00 EUR vs median 295.10 EUR over 30 days",
    score: 9.7,
    details: { value: 12480, median: 295.1, threshold: 2950 },
    evidence: [],
    resolved_at: null,
    trace_id: "0af7651916cd43dd8448eb211c80319c",
    stages: {},
  };
}

Deno.test(
  "the page shows live alerts, filters, the detail view and escapes event text (Chromium)",
  opts,
  async () => {
    const assets = await loadStaticAssets();
    const now = Date.now();
    // The raw archive holds the batch of logs partition 0 that began at offset 900.
    const archiveDir = await Deno.makeTempDir({ prefix: "vigil-web-archive-" });
    const archivedKey = objectKey("raw", {
      topic: "logs",
      partition: 0,
      offset: "900",
      timestamp: String(now - 20_000),
    });
    // Offsets 900..999; the archive stored up to 1099, the rest filed under another hour.
    const lines = Array.from({ length: 100 }, (_, i) =>
      archiveLine({
        topic: "logs",
        partition: 0,
        offset: String(900 + i),
        timestamp: String(now - 20_000),
        key: null,
        value: new TextEncoder().encode("{}"),
      }) + "\n");
    const archiveStore = createDirStore(archiveDir);
    await archiveStore.put(archivedKey, await gzip(lines.join("")));
    await archiveStore.put(
      progressKey("raw", "logs", 0),
      new TextEncoder().encode('{"next":"1100"}'),
    );
    await withWebApp(async ({ app, sql, redis, keys, hub }) => {
      // Fixtures: a realistic hour of anomalies, one carrying HTML in its text fields.
      const kinds = [
        ["metrics", "threshold", "checkout", "p99 latency above 500 ms", "latency_ms"],
        ["logs", "error_rate", "payments", "error rate 14% (baseline 0.8%)", "error_rate"],
        ["metrics", "zscore", "search", "cpu z-score 4.1", "cpu"],
        ["transactions", "velocity", "user-1208", "9 transactions in 60 s", "count"],
        ["logs", "new_error", "auth", "new error signature: TokenExpired", "count"],
      ] as const;
      const severities = ["CRITICAL", "WARNING", "INFO", "WARNING", "WARNING"] as const;
      const stream = keys.events("logs");
      const streamId = await redis.xadd(
        stream,
        "*",
        "data",
        JSON.stringify({
          ts: new Date(now).toISOString(),
          service: "auth",
          level: "ERROR",
          message: XSS,
        }),
        "topic",
        "logs",
        "partition",
        "0",
        "offset",
        "981",
        "key",
        "auth",
        "ingest_ts",
        String(now),
      );
      await insertAnomalies(sql, [
        ...Array.from({ length: 40 }, (_, i) => {
          const [type, rule, entity, title, measure] = kinds[i % kinds.length]!;
          return {
            id: `fx-${i}`,
            detected_at: new Date(now - 60_000 - i * 83_000),
            type,
            rule,
            severity: severities[(i * 7) % 5]!,
            entity,
            title,
            message: `${title} — window 5m, observed at ${
              new Date(now - i * 83_000).toISOString()
            }`,
            score: 3 + (i % 5) * 0.7,
            details: {
              measure,
              value: 540 + i * 3,
              threshold: 500,
              window: "5m",
              ...(i === 0 ? { expected_low: 280, expected_high: 400 } : {}),
            },
            resolved_at: i % 3 === 0 ? new Date(now - i * 60_000) : null,
          };
        }),
        {
          id: "xss-1",
          detected_at: new Date(now - 30_000),
          type: "logs",
          rule: "new_error",
          severity: "CRITICAL",
          entity: "auth<b>",
          title: `Injected ${XSS}`,
          // A right-to-left override would show "evil" as "live": the page marks it.
          message: `Event says ${XSS} \u202Eevil\u202C`,
          details: { sample: `${XSS} \u202Eevil`, value: 3, threshold: 1 },
          evidence: [
            { stream, stream_id: streamId!, topic: "logs", partition: 0, offset: "981" },
            { stream, stream_id: "1-0", topic: "logs", partition: 0, offset: "1005" },
          ],
        },
      ]);
      // A thousand older anomalies (two to three hours ago, never logs): the list pages and
      // virtualises them.
      await insertAnomalies(
        sql,
        Array.from({ length: 1000 }, (_, i) => ({
          id: `old-${String(i).padStart(4, "0")}`,
          detected_at: new Date(now - 2 * 3_600_000 - i * 7_000),
          type: i % 2 ? "metrics" as const : "transactions" as const,
          rule: "threshold",
          severity: "INFO" as const,
          entity: `svc-${i % 40}`,
          title: `older anomaly ${i}`,
          resolved_at: new Date(now - 3_600_000),
        })),
      );
      // A cached series for the sparkline of fx-0 (metrics/checkout/latency_ms).
      const key = keys.scores("metrics", "checkout", "latency_ms");
      const args: (string | number)[] = [];
      for (let i = 0; i < 60; i++) {
        const ts = now - 60_000 - (30 - i) * 30_000;
        const value = 320 + 40 * Math.sin(i / 4) + (i === 30 ? 260 : 0);
        args.push(ts, JSON.stringify({ ts, value, score: i === 30 ? 5.1 : 0.3 }));
      }
      await redis.zadd(key, ...args);
      await redis.sadd(keys.scoreMeasures("metrics"), "latency_ms"); // as the detector writes it

      // Serve the app; live responses can be cut to simulate a dropped connection.
      let cut = new AbortController();
      // Served as in production (behind the request-head guard).
      const server = serve({
        async fetch(req) {
          const res = await app.fetch(req);
          if (new URL(req.url).pathname !== "/api/live" || !res.body) return res;
          // Cutting ends the response cleanly (as a proxy dropping it would) and lets go of
          // the app's stream, so the hub sees the client leave.
          return cuttable(res, cut.signal);
        },
      }, { port: 0, log: silentLogger() });
      const base = `http://127.0.0.1:${server.port}`;
      const browser = await launchBrowser();
      const consoleErrors = browser.errors;
      try {
        const { page } = browser;

        await page.goto(base + "/");
        await page.waitForSelector('.live[data-state="live"]', { timeout: 15_000 });
        await page.waitForSelector('.row[data-id="fx-0"]', { timeout: 10_000 });
        await waitUntil(() => hub.size === 1, "the page's live connection");
        // The badge's pulse runs on the compositor (transform, opacity): an animated box-shadow
        // repainted it every frame for as long as the page stayed open.
        const pulsed = await page.evaluate(() =>
          document.getAnimations().flatMap((a) => {
            const effect = a.effect as KeyframeEffect;
            if (!(effect.target as Element | null)?.closest(".live")) return [];
            return effect.getKeyframes().flatMap((k) =>
              Object.keys(k).filter((p) =>
                !["offset", "computedOffset", "easing", "composite"].includes(p)
              )
            );
          })
        );
        assert.deepEqual([...new Set(pulsed)].sort(), ["opacity", "transform"]);

        // 1. An alert published now appears without reload within 2 s, highlighted.
        const alert = liveAlert("live-1", Date.now());
        await insertAnomalies(sql, [{
          ...alert,
          detected_at: new Date(alert.detected_at),
          event_time: new Date(alert.event_time),
          resolved_at: null,
        }]);
        await redis.publish(keys.alertsChannel(), JSON.stringify(alert));
        // Shown while fresh (a timing limit for a loaded machine: latency is a benchmark's).
        await page.waitForSelector('.row.fresh[data-id="live-1"]', { timeout: 5000 });
        assert.equal(
          await page.textContent('.row[data-id="live-1"] .title'),
          "Transaction amount 42x the user's median",
        );

        // 2. User text is text: the injected markup shows literally and never runs.
        const xssTitle = await page.textContent('.row[data-id="xss-1"] .title');
        assert.equal(xssTitle, `Injected ${XSS}`);
        assert.equal(
          await page.evaluate(() => document.querySelectorAll("#app script, #app img").length),
          0,
        );

        // 3. The detail view opens with message, values, sparkline, evidence.
        await page.click('.row[data-id="xss-1"]');
        await page.waitForSelector(".detail .message");
        assert.equal(
          await page.textContent(".detail .message"),
          `Event says ${XSS} \uFFFDevil\uFFFD`,
        );
        assert.equal(
          await page.textContent('.row[data-id="xss-1"] .msg'),
          `Event says ${XSS} \uFFFDevil\uFFFD`,
        );
        assert.ok(
          (await page.locator(".detail table").allTextContents()).join("").includes(
            `${XSS} \uFFFDevil`,
          ),
          "a detail's text value",
        );
        // The list holds list items only (the "Load more" button sits beside it).
        assert.ok(
          await page.evaluate(() =>
            [...document.querySelectorAll("[role=list]")].every((l) =>
              [...l.children].every((c) => c.getAttribute("role") === "listitem")
            )
          ),
        );
        await page.waitForSelector(".detail .evidence li");
        assert.equal(
          await page.textContent(".detail .evidence .archive-found code"),
          `s3://vigil-archive/${archivedKey}`,
        );
        // Archived, in an object filed under an hour the lookup did not search.
        assert.match(
          (await page.textContent(".detail .evidence .archive-elsewhere")) ?? "",
          /^archived under an hour not searched; look in s3:\/\/vigil-archive\/raw\/logs\/ as dt=\*\/hour=\*\/0-\*\.ndjson\.gz, the one with the greatest first offset/,
        );
        await page.click(".detail .evidence summary");
        assert.match(
          (await page.textContent(".detail .evidence pre")) ?? "",
          /<script>window.__pwned/,
        );
        assert.equal(
          await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned),
          undefined,
        );
        await browser.screenshot("page-evidence.png");
        assert.equal(new URL(page.url()).pathname, "/alerts/xss-1");

        await page.click('.row[data-id="fx-0"]');
        await page.waitForSelector(".detail .spark svg path.line", { timeout: 5000 });
        assert.equal(await page.textContent(".detail h2"), "p99 latency above 500 ms");
        assert.equal(await page.locator(".detail .spark rect.band").count(), 1);
        assert.equal(await page.locator(".detail .spark line.threshold").count(), 1);

        // 4. A thousand rows: scrolling pages them in, and only the rows in view are in the DOM.
        const shown = async () =>
          Number(/^(\d+)/.exec((await page.textContent(".list-foot .count")) ?? "")?.[1]);
        // Paging in takes several reads: a deadline, not a count of tries (slow machines).
        for (const until = Date.now() + 20_000; Date.now() < until && (await shown()) < 1042;) {
          await page.evaluate(() => {
            const list = document.querySelector(".list")!;
            list.scrollTop = list.scrollHeight;
          });
          await page.waitForTimeout(150);
        }
        assert.equal(await shown(), 1042); // 40 fixtures, xss-1, live-1, 1000 older
        assert.match((await page.textContent(".list-foot .count")) ?? "", /^1042 shown$/);
        await page.evaluate(() => {
          const list = document.querySelector(".list")!;
          list.scrollTop = list.scrollHeight;
        });
        await page.waitForSelector('.row[data-id="old-0999"]', { timeout: 5000 });
        const inDom = await page.locator(".row").count();
        assert.ok(inDom < 60, `${inDom} rows in the DOM for 1042 loaded`);
        await page.evaluate(() => {
          document.querySelector(".list")!.scrollTop = 0;
        });
        await page.waitForSelector('.row[data-id="live-1"]');
        const atTop = await page.locator(".row").count();
        assert.ok(atTop < 60, `${atTop} rows in the DOM at the top for 1042 loaded`);

        // 5. A filter narrows the list and is kept in the URL.
        const before = await shown();
        await page.selectOption("#filter-type", "logs");
        await page.waitForFunction(
          () => {
            const rows = [...document.querySelectorAll(".row .meta")];
            return rows.length > 0 && rows.every((r) => r.textContent!.startsWith("logs"));
          },
          undefined,
          { timeout: 5000 },
        );
        const after = await shown();
        assert.equal(after, 17, `filter did not narrow the list (${before} → ${after})`);
        assert.match(page.url(), /[?&]type=logs/);
        await page.reload();
        await page.waitForSelector('.row[data-id="xss-1"]');
        assert.equal(await page.inputValue("#filter-type"), "logs");
        await page.selectOption("#filter-type", "");
        await page.waitForSelector('.row[data-id="live-1"]');
        // By keyboard: Enter in the entity field applies it, and Tab from there never lands
        // on something off screen (the form's submit button is for Enter only).
        await page.fill("#filter-entity", "auth<b>");
        await page.press("#filter-entity", "Enter");
        await page.waitForFunction(() => document.querySelectorAll(".row").length === 1);
        assert.match(page.url(), /[?&]entity=auth%3Cb%3E/);
        await page.focus("#filter-entity");
        await page.keyboard.press("Tab");
        assert.ok(
          await page.evaluate(() => document.activeElement!.getBoundingClientRect().left >= 0),
          await page.evaluate(() => document.activeElement!.outerHTML.slice(0, 120)),
        );
        // Entities match exactly, and an empty answer says so (a part of a name finds nothing).
        await page.fill("#filter-entity", "aut");
        await page.press("#filter-entity", "Enter");
        await page.waitForSelector(".list .empty:has-text('Rule and entity match exactly.')");
        await page.fill("#filter-entity", "");
        await page.press("#filter-entity", "Enter");
        await page.waitForSelector('.row[data-id="live-1"]');
        await page.click('.row[data-id="fx-0"]');
        await page.waitForSelector(".detail .spark svg path.line", { timeout: 5000 });

        // 6. Acknowledge and silence from the detail view; the token is asked for when needed.
        await page.click(".detail .actions button:text('Acknowledge')");
        await page.fill("#ack-by", "carol");
        await page.fill("#ack-comment", "on it \u202Eevil");
        await page.click(".action-form button[type=submit]:text('Acknowledge')");
        await page.waitForSelector(".action-form .error");
        assert.match((await page.textContent(".action-form .error")) ?? "", /bearer token/);
        // The page says where the token is and what to do with it.
        const help = (await page.textContent('.action-form .token-help[data-status="401"]')) ?? "";
        assert.match(help, /need the server's API token/);
        assert.match(help, /printed at start and kept in \.vigil\/api_token/);
        await page.fill(".action-form .token-input", TOKEN);
        await page.click(".action-form .token button[type=submit]");
        await page.click(".action-form button[type=submit]:text('Acknowledge')");
        await page.waitForSelector(".detail .notice:text('Acknowledged.')");
        const [acked] = await sql`
          SELECT acknowledged_by, ack_comment FROM anomaly_events WHERE id = 'fx-0'`;
        assert.deepEqual({ ...acked }, {
          acknowledged_by: "carol",
          ack_comment: "on it \u202Eevil",
        });
        await page.waitForSelector(".detail .facts .ack");
        // The comment is text anyone could write: its override is marked, as in event text.
        assert.match(
          (await page.textContent(".detail .facts .ack dd")) ?? "",
          /“on it \uFFFDevil”$/,
        );
        await page.click(".detail .actions button:text('Silence…')");
        assert.equal(await page.inputValue("#silence-by"), "carol");
        await page.click(".action-form button[type=submit]:text('Silence')");
        await page.waitForSelector(".detail .notice:text('Silenced until')");
        const silences = await sql`SELECT matchers, author FROM silences`;
        assert.deepEqual(silences.map((r) => ({ ...r })), [{
          matchers: { rule: "threshold", entity: "checkout" },
          author: "carol",
        }]);
        await page.waitForSelector(".detail .facts dt:text('Silenced')");

        // 7. The live connection drops: the page says so, reconnects by itself, and still receives.
        await page.waitForSelector('.live[data-state="live"]');
        const states = await watchLiveStates(page);
        cut.abort();
        cut = new AbortController();
        await states.seen("reconnecting");
        await page.waitForSelector('.live[data-state="live"]', { timeout: 15_000 });
        const again = liveAlert("live-2", Date.now());
        await redis.publish(
          keys.alertsChannel(),
          JSON.stringify({ ...again, severity: "WARNING" }),
        );
        await page.waitForSelector('.row[data-id="live-2"]', { timeout: 5000 });

        await browser.screenshot("page.png");
        await page.emulateMedia({ colorScheme: "dark" });
        await browser.screenshot("page-dark.png");
        await page.setViewportSize({ width: 390, height: 844 });
        await page.emulateMedia({ colorScheme: "light" });
        await page.click(".detail .close");
        await browser.screenshot("page-phone.png");
        await page.click('.row[data-id="fx-0"]');
        await page.waitForSelector(".detail .spark svg");
        await browser.screenshot("page-phone-detail.png");

        // The only expected errors: the live stream the test cut on purpose, and the 401 of
        // the acknowledgement tried before the token was given.
        assert.deepEqual(
          consoleErrors.filter((e) => !/ERR_INCOMPLETE_CHUNKED_ENCODING/.test(e)),
          ["Failed to load resource: the server responded with a status of 401 (Unauthorized)"],
        );
      } finally {
        await browser.close();
        await hub.close();
        await server.close();
      }
    }, { assets, token: TOKEN, archive: createDirLister(archiveDir) }).finally(() =>
      Deno.remove(archiveDir, { recursive: true })
    );
  },
);
