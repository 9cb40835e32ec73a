/**
 * PostgreSQL out of reach while the web runs (a TCP proxy between them is
 * cut): the API answers 503 with Retry-After, as docs/operations.md says,
 * not 500, and answers again once PostgreSQL is back; the page says what
 * it cannot read (not "0 critical") and recovers without a reload.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { startUrlProxy, type TcpProxy } from "@vigil/tools/testing/tcp_proxy";
import { loadStaticAssets } from "../static.ts";
import { launchBrowser, serveApp } from "./_browser.ts";
import { getJson, insertAnomalies, withWebApp } from "./_helpers.ts";

const TOKEN = "outage-test-token-42";

/** The web's PostgreSQL client through a TCP proxy the test can cut; `close()` ends both. */
function proxiedSql() {
  let proxy: (TcpProxy & { url: string }) | undefined;
  let sql: postgres.Sql | undefined;
  return {
    get proxy() {
      return proxy!;
    },
    connect(url: string): postgres.Sql {
      proxy = startUrlProxy(url);
      return sql = postgres(proxy.url, { max: 2, onnotice: () => {}, connect_timeout: 2 });
    },
    async close() {
      await sql?.end({ timeout: 1 });
      await proxy?.close();
    },
  };
}

Deno.test({
  name: "the web answers 503 with Retry-After while PostgreSQL is out of reach, 200 again after",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const db = proxiedSql();
    try {
      await withWebApp(async ({ app }) => {
        assert.equal((await getJson(app, "/api/anomalies")).status, 200);
        db.proxy.cut();
        const res = await app.request("/api/anomalies");
        assert.equal(res.status, 503);
        assert.equal(res.headers.get("retry-after"), "5");
        assert.deepEqual(await res.json(), {
          error: "Service unavailable: a database is out of reach; retry later",
        });
        db.proxy.restore();
        assert.equal((await getJson(app, "/api/anomalies")).status, 200);
      }, {
        appSql: (url) => db.connect(url),
      });
    } finally {
      await db.close();
    }
  },
});

Deno.test({
  name:
    "the page says what it cannot read while PostgreSQL is out of reach, and recovers by itself (Chromium)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const assets = await loadStaticAssets();
    const db = proxiedSql();
    try {
      await withWebApp(async ({ app, sql }) => {
        await insertAnomalies(sql, [{
          id: "outage-1",
          detected_at: new Date(Date.now() - 60_000),
          title: "seen after the outage",
          severity: "CRITICAL",
        }]);
        // The web was reading PostgreSQL, then PostgreSQL went out of reach.
        assert.equal((await getJson(app, "/api/anomalies")).status, 200);
        db.proxy.cut();
        const web = serveApp(app);
        const browser = await launchBrowser();
        const { page } = browser;
        try {
          // Opened from a digest's link while PostgreSQL is out of reach.
          await page.goto(`${web.base}/alerts/outage-1`);
          await page.waitForSelector(".list-card p.error");
          assert.match(
            (await page.textContent(".list-card p.error")) ?? "",
            /^Service unavailable: a database is out of reach; retry later \(trying again by itself\)$/,
          );
          await page.waitForSelector(".chart-card p.error");
          assert.match(
            (await page.textContent(".chart-card p.error")) ?? "",
            /^Cannot read the last hour: Service unavailable/,
          );
          await page.waitForSelector(".detail p.error");
          assert.match(
            (await page.textContent(".detail p.error")) ?? "",
            /^Service unavailable: .* \(trying again by itself\)$/,
          );
          // The entity page, open in another tab.
          const entityPage = await browser.context.newPage();
          await entityPage.goto(`${web.base}/entities/checkout`);
          await entityPage.waitForSelector("p.error");
          assert.match(
            (await entityPage.textContent("p.error")) ?? "",
            /^Service unavailable: .* \(trying again by itself\)$/,
          );
          assert.equal(await page.locator(".list-foot .count").count(), 0, "not '0 shown'");
          // Not "0 critical": unknown.
          assert.equal(await page.textContent(".counter.sev-CRITICAL .n"), "–");
          assert.equal(await page.locator(".list .empty").count(), 0, "no 'nothing matches'");
          await browser.screenshot("page-db-out-of-reach.png");
          db.proxy.restore();
          // Retry-After: 5 → the page asks again within seconds, without a reload.
          await page.waitForSelector('.row[data-id="outage-1"]', { timeout: 20_000 });
          await page.waitForFunction(
            () => document.querySelector(".counter.sev-CRITICAL .n")?.textContent === "1",
            undefined,
            { timeout: 20_000 },
          );
          await page.waitForFunction(
            () => document.querySelector(".detail h2")?.textContent === "seen after the outage",
            undefined,
            { timeout: 20_000 },
          );
          assert.equal(await page.locator(".list-card p.error").count(), 0);
          // Sooner than the entity page's own 30 s reload.
          await entityPage.waitForSelector("h2.entity-name", { timeout: 15_000 });
          assert.equal(await entityPage.textContent("h2.entity-name"), "checkout");
          assert.equal(await page.locator(".chart-card p.error").count(), 0);

          // Out of reach again: a filter chosen now shows no rows of the old filter, and an
          // acknowledgement says the database is out of reach, not that the token is missing.
          await page.evaluate((t) => localStorage.setItem("vigil.token", t), TOKEN);
          db.proxy.cut();
          await page.selectOption("#filter-type", "logs");
          await page.waitForSelector(".list-card p.error");
          assert.equal(await page.locator('.row[data-id="outage-1"]').count(), 0);
          // Writes have no deadline (a retried write would be made twice) and wait on this
          // proxy: the acknowledgement gets the server's answer for PostgreSQL out of reach.
          const outage = await app.request("/api/anomalies");
          assert.equal(outage.status, 503);
          const body = await outage.text();
          await page.route(/\/ack$/, (route) =>
            route.fulfill({
              status: 503,
              headers: Object.fromEntries(outage.headers),
              body,
            }));
          await page.click(".detail .actions button:text('Acknowledge')");
          await page.fill("#ack-by", "carol");
          await page.click(".action-form button[type=submit]:text('Acknowledge')");
          await page.waitForSelector(".action-form .error", { timeout: 10_000 });
          assert.equal(
            await page.textContent(".action-form .error"),
            "Service unavailable: a database is out of reach; retry later",
          );
          assert.equal(await page.locator(".action-form .token-help").count(), 0);
          assert.deepEqual(
            browser.errors.filter((e) => !/status of 503/.test(e)),
            [],
            "no page error besides the 503s the browser logs",
          );
        } finally {
          await browser.close();
          await web.close();
        }
      }, {
        assets,
        token: TOKEN,
        requestDeadlineMs: 2000,
        appSql: (url) => db.connect(url),
      });
    } finally {
      await db.close();
    }
  },
});
