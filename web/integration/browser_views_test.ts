import assert from "node:assert/strict";
import { loadStaticAssets } from "../static.ts";
import { launchBrowser, scrollsSideways, serveApp } from "./_browser.ts";
import { insertAnomalies, withWebApp } from "./_helpers.ts";

// playwright and ioredis keep handles; everything is closed in finally.
const opts = { sanitizeOps: false, sanitizeResources: false };

/** `HH:MM` of `ms` in `timeZone`, 24-hour. */
function clock(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat("en-US", {
    hourCycle: "h23",
    hour: "2-digit",
    minute: "2-digit",
    timeZone,
  }).format(ms);
}

Deno.test(
  "times show their zone: UTC by default, the browser's zone on request, kept (Chromium)",
  opts,
  async () => {
    const assets = await loadStaticAssets();
    await withWebApp(async ({ app, sql }) => {
      const now = Date.now();
      const t = now - 7 * 60_000;
      await insertAnomalies(sql, [{ id: "tz-1", detected_at: new Date(t), title: "tz check" }]);
      const web = serveApp(app);
      // A zone with a half-hour offset and no daylight saving: every hour shown differs.
      const browser = await launchBrowser({ timezoneId: "Asia/Kolkata" });
      const { page } = browser;
      try {
        await page.goto(`${web.base}/alerts/tz-1`);
        await page.waitForSelector(".detail .facts");
        const detected = () => page.textContent(".detail .facts div:has(dt:text('Detected')) dd");
        assert.equal(await page.inputValue("#tz-select"), "utc");
        assert.match((await detected()) ?? "", new RegExp(`${clock(t, "UTC")}(:\\d\\d)? UTC$`));
        assert.equal(await page.textContent(".chart-zone"), "(UTC)");
        // The chart's last tick is the end of the current minute, on a 24-hour clock.
        const minute = Math.floor(Date.now() / 60_000) * 60_000;
        // The page drew it a moment ago: the minute may have turned since.
        const ends = [minute, minute + 60_000];
        const lastTick = async () =>
          (await page.locator(".chart text.tick").allTextContents()).at(-1);
        const utcTick = await lastTick();
        assert.ok(ends.some((e) => clock(e, "UTC") === utcTick), `${utcTick}`);
        assert.match(
          (await page.getAttribute('.row[data-id="tz-1"] .time', "title")) ?? "",
          new RegExp(`${clock(t, "UTC")}(:\\d\\d)? UTC$`),
        );
        await browser.screenshot("page-utc.png");

        // Local: the browser's zone, named on every time.
        await page.selectOption("#tz-select", "local");
        await page.waitForFunction(() =>
          document.querySelector(".chart-zone")?.textContent === "(GMT+5:30)"
        );
        assert.match(
          (await detected()) ?? "",
          new RegExp(`${clock(t, "Asia/Kolkata")}(:\\d\\d)? GMT\\+5:30$`),
        );
        assert.equal(await page.textContent(".chart-zone"), "(GMT+5:30)");
        const localTick = await lastTick();
        assert.ok(ends.some((e) => clock(e, "Asia/Kolkata") === localTick), `${localTick}`);
        assert.notEqual(localTick, utcTick);
        assert.match(
          (await page.textContent("#tz-select option[value=local]")) ?? "",
          /Local \(Asia\/(Kolkata|Calcutta), GMT\+5:30\)/,
        );
        // Kept in this browser.
        await page.reload();
        await page.waitForSelector(".detail .facts");
        assert.equal(await page.inputValue("#tz-select"), "local");
        assert.match((await detected()) ?? "", / GMT\+5:30$/);
        assert.equal(
          await page.evaluate(() => localStorage.getItem("vigil.tz")),
          "local",
        );
        await page.selectOption("#tz-select", "utc");
        await page.waitForFunction(() =>
          document.querySelector(".chart-zone")?.textContent === "(UTC)"
        );
        assert.match((await detected()) ?? "", / UTC$/);
        assert.deepEqual(browser.errors, []);
      } finally {
        await browser.close();
        await web.close();
      }
    }, { assets });
  },
);

Deno.test(
  "the list filters by acknowledged, kept in the URL; the placeholder is gone (Chromium)",
  opts,
  async () => {
    const assets = await loadStaticAssets();
    await withWebApp(async ({ app, sql, redis, keys }) => {
      const now = Date.now();
      await insertAnomalies(
        sql,
        Array.from({ length: 12 }, (_, i) => ({
          id: `k-${i}`,
          detected_at: new Date(now - i * 60_000),
          acknowledged_at: i % 3 === 0 ? new Date(now) : null,
        })),
      );
      const web = serveApp(app);
      const browser = await launchBrowser();
      const { page } = browser;
      const ids = () =>
        page.locator(".row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-id")));
      try {
        await page.goto(web.base + "/");
        await page.waitForSelector('.row[data-id="k-11"]');
        assert.equal(await page.locator("#app .boot").count(), 0);
        assert.ok(!(await page.textContent("body"))?.includes("Loading Vigil"));
        await page.selectOption("#filter-acknowledged", "true");
        await page.waitForFunction(() => document.querySelectorAll(".row").length === 4);
        assert.deepEqual(await ids(), ["k-0", "k-3", "k-6", "k-9"]);
        assert.equal(await page.locator(".row .tag:text('ack')").count(), 4);
        assert.match(page.url(), /[?&]acknowledged=true/);
        await page.reload();
        await page.waitForSelector('.row[data-id="k-9"]');
        assert.equal(await page.inputValue("#filter-acknowledged"), "true");
        assert.deepEqual(await ids(), ["k-0", "k-3", "k-6", "k-9"]);
        await page.selectOption("#filter-acknowledged", "false");
        await page.waitForFunction(() => document.querySelectorAll(".row").length === 8);
        assert.equal(await page.locator(".row .tag:text('ack')").count(), 0);
        assert.match(page.url(), /[?&]acknowledged=false/);
        // The old link form still opens an anomaly, and becomes /alerts/<id>.
        await page.goto(`${web.base}/?id=k-4`);
        await page.waitForSelector(".detail .message");
        assert.equal(new URL(page.url()).pathname, "/alerts/k-4");
        // An anomaly of the first minute of 1970 (the evaluate API accepts one): its chart asks
        // for the half hour around it, clamped to the epoch (a negative `from` answered 400).
        await insertAnomalies(sql, [{
          id: "epoch",
          detected_at: new Date(now),
          event_time: new Date(0),
        }]);
        // checkout has a series, with no point around 1970.
        await redis.sadd(keys.scoreMeasures("metrics"), "latency_ms");
        await redis.zadd(keys.scores("metrics", "checkout", "latency_ms"), now, `${now}:0.1:120`);
        await page.goto(`${web.base}/alerts/epoch`);
        await page.waitForSelector("text=No cached values around this time");
        // A log's anomaly has no series at all, fresh or not: said so, not "recent points only".
        await insertAnomalies(sql, [{
          id: "log-1",
          detected_at: new Date(now),
          type: "logs",
          rule: "error_spike",
          entity: "svc-log",
        }]);
        await page.goto(`${web.base}/alerts/log-1`);
        await page.waitForSelector(".detail >> text=No series is cached for this entity");
        assert.deepEqual(browser.errors, []);
      } finally {
        await browser.close();
        await web.close();
      }
    }, { assets });
  },
);

Deno.test("the API docs page renders /api/openapi.json offline (Chromium)", opts, async () => {
  const assets = await loadStaticAssets();
  await withWebApp(async ({ app }) => {
    const web = serveApp(app);
    const doc = await (await fetch(`${web.base}/api/openapi.json`)).json() as {
      paths: Record<string, Record<string, unknown>>;
    };
    const operations = Object.values(doc.paths).reduce((n, p) => n + Object.keys(p).length, 0);
    const browser = await launchBrowser();
    const { page } = browser;
    // Every request the page makes stays on this server.
    const foreign: string[] = [];
    page.on("request", (r) => {
      if (!r.url().startsWith(web.base)) foreign.push(r.url());
    });
    try {
      await page.goto(`${web.base}/api/docs`);
      await page.waitForSelector(".op");
      assert.equal(await page.locator("article.op").count(), operations);
      // Headings in order for screen readers: h2 (tag) > h3 (operation) > h4 (its parts).
      assert.equal(await page.locator("article.op > h3.op-head").count(), operations);
      const op = page.locator('article.op[data-method="get"][data-path="/api/entities/{entity}"]');
      assert.equal(await op.locator(".op-summary").count(), 1);
      assert.deepEqual(await op.locator(".params th code").allTextContents(), [
        "entity",
        "type",
        "limit",
        "points",
      ]);
      const ack = page.locator('article.op[data-path="/api/anomalies/{id}/ack"]');
      assert.equal(await ack.locator(".tag.access-token").count(), 1);
      assert.deepEqual(await ack.locator(".op-body .schema code.field").allTextContents(), [
        "by",
        "comment",
      ]);
      assert.equal(await page.locator("#app .boot").count(), 0);
      await browser.screenshot("api-docs.png");
      await page.setViewportSize({ width: 390, height: 844 });
      assert.equal(await scrollsSideways(page), false, "the docs fit 390 px");
      assert.deepEqual(foreign, []);
      assert.deepEqual(browser.errors, []);
    } finally {
      await browser.close();
      await web.close();
    }
  }, { assets, token: "docs-token-0123456789", publicRead: false });
});

Deno.test(
  "a mutation refused for want of a token says where the token is and what to do (Chromium)",
  opts,
  async () => {
    const assets = await loadStaticAssets();
    await withWebApp(async ({ app, sql }) => {
      await insertAnomalies(sql, [{ id: "nt-1", detected_at: new Date() }]);
      const web = serveApp(app);
      const browser = await launchBrowser();
      const { page } = browser;
      try {
        await page.goto(`${web.base}/alerts/nt-1`);
        await page.click(".detail .actions button:text('Acknowledge')");
        await page.fill("#ack-by", "dave");
        await page.click(".action-form button[type=submit]:text('Acknowledge')");
        const help = page.locator('.action-form .token-help[data-status="503"]');
        await help.waitFor();
        const text = (await help.textContent())!.replace(/\s+/g, " ");
        assert.match(text, /turned off on this server/);
        assert.match(text, /VIGIL_API_TOKEN is unset/);
        assert.match(text, /deno task dev and bash tools\/vigil\.sh up set one for you/);
        assert.match(text, /\.vigil\/api_token/);
        assert.match(text, /the VIGIL_API_TOKEN the web service was started with/);
        assert.equal(await help.locator("input.token-input").count(), 1);
        await browser.screenshot("token-help-503.png");
        assert.deepEqual(browser.errors, [
          "Failed to load resource: the server responded with a status of 503 (Service Unavailable)",
        ]);
      } finally {
        await browser.close();
        await web.close();
      }
    }, { assets });
  },
);

Deno.test(
  "a browser that refuses storage still acknowledges and silences, asked for the token once (Chromium)",
  opts,
  async () => {
    const assets = await loadStaticAssets();
    const token = "storage-token-0123456789";
    await withWebApp(async ({ app, sql }) => {
      await insertAnomalies(sql, [{ id: "ps-1", detected_at: new Date(), title: "private mode" }]);
      const web = serveApp(app);
      const browser = await launchBrowser();
      const { page } = browser;
      // Storage disabled (a policy, some private modes): every access throws.
      await page.addInitScript(() =>
        Object.defineProperty(globalThis, "localStorage", {
          get() {
            throw new DOMException("Access is denied for this document.", "SecurityError");
          },
        })
      );
      try {
        await page.goto(`${web.base}/alerts/ps-1`);
        await page.waitForSelector(".detail .facts");
        await page.click(".detail .actions button:text('Acknowledge')");
        await page.fill("#ack-by", "dana");
        await page.click(".action-form button[type=submit]:text('Acknowledge')");
        await page.waitForSelector(".action-form .token-input");
        // Pasted with a character no header can carry: said at once, not kept (it made every
        // request of the page fail, reads included).
        await page.fill(".action-form .token-input", `${token}\u2019`);
        await page.click(".action-form .token button[type=submit]");
        await page.waitForSelector(".action-form .token-problem", { timeout: 5000 });
        assert.match((await page.textContent(".token-problem")) ?? "", /only A-Z a-z 0-9/);
        await page.fill(".action-form .token-input", token);
        await page.click(".action-form .token button[type=submit]");
        assert.equal(await page.locator(".token-problem").count(), 0);
        // Saved: the 401 and "paste it below" go (they stayed, as if the token had not been
        // taken), and the form says to press Acknowledge again.
        await page.waitForSelector(".action-form .token-saved", { timeout: 5000 });
        assert.equal(
          (await page.textContent(".action-form .token-saved"))?.trim(),
          "Token saved in this browser: press Acknowledge again.",
        );
        assert.equal(
          await page.locator(".action-form .error, .action-form .token-help").count(),
          0,
        );
        await page.click(".action-form button[type=submit]:text('Acknowledge')");
        assert.equal(await page.locator(".action-form .token-saved").count(), 0);
        await page.waitForSelector(".detail .notice:text('Acknowledged.')");
        // The token is still known to the page: the silence goes through without asking.
        await page.click(".detail .actions button:text('Silence…')");
        await page.fill("#silence-by", "dana");
        await page.click(".action-form button[type=submit]:text('Silence')");
        await page.waitForSelector(".detail .notice:text('Silenced until')");
        const [row] = await sql`SELECT acknowledged_by FROM anomaly_events WHERE id = 'ps-1'`;
        assert.equal(row?.acknowledged_by, "dana");
        assert.equal((await sql`SELECT 1 FROM silences`).length, 1);
        // The one 401: the first acknowledgement, before the token was given.
        assert.deepEqual(browser.errors, [
          "Failed to load resource: the server responded with a status of 401 (Unauthorized)",
        ]);
      } finally {
        await browser.close();
        await web.close();
      }
    }, { assets, token, publicRead: true });
  },
);
