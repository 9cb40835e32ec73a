/**
 * Acknowledgements are live: two pages on two web instances sharing Redis
 * and PostgreSQL (as behind a load balancer). When one operator
 * acknowledges, the other page's row changes at once, pushed live (it leaves
 * a "not acknowledged" list; an open detail shows who), and an
 * acknowledgement told while the list is read is not undone by the read.
 */
import assert from "node:assert/strict";
import type { Page, Response, Route } from "playwright-core";
import { testAlert } from "@vigil/tools/testing/alert";
import { loadStaticAssets } from "../static.ts";
import { launchBrowser, serveApp } from "./_browser.ts";
import { insertAnomalies, sendJson, withWebApp } from "./_helpers.ts";
import { waitUntil } from "./_sse.ts";

// playwright and ioredis keep handles; everything is closed in finally.
const opts = { sanitizeOps: false, sanitizeResources: false };
const TOKEN = "browser-ack-live-token-7";
const AUTH = { authorization: `Bearer ${TOKEN}` };
/**
 * How soon another page must show an acknowledgement: well under a second on an idle machine;
 * generous for a busy one (CI runs the suite in parallel on 2 cores), where a page has no other way
 * to learn of it meanwhile (the list and detail read again only after a reconnection, the entity
 * page every 30 s: checked apart).
 */
const LIVE_MS = 5000;

const ids = (page: Page) =>
  page.locator(".row").evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.id));

/**
 * Init script: counts the `ack` events the page's live connection hands it (through the shared
 * worker's port, api.js), in `globalThis.liveAcks`, before the page's own handler runs.
 */
function countLiveAcks() {
  const g = globalThis as unknown as { liveAcks: number; SharedWorker: typeof SharedWorker };
  g.liveAcks = 0;
  const Native = g.SharedWorker;
  g.SharedWorker = class extends Native {
    constructor(...args: ConstructorParameters<typeof SharedWorker>) {
      super(...args);
      this.port.addEventListener("message", ({ data }) => {
        if (data?.type === "event" && data.name === "ack") g.liveAcks++;
      });
    }
  };
}

async function acknowledge(page: Page, id: string, comment: string): Promise<void> {
  await page.click(`.row[data-id="${id}"]`);
  await page.waitForSelector(`.detail h2:text('anomaly ${id}')`);
  await page.click(".detail .actions button:text-is('Acknowledge')");
  await page.fill("#ack-comment", comment);
  await page.click(".action-form button[type=submit]");
  await page.waitForSelector(".detail .notice:text('Acknowledged.')");
}

Deno.test(
  "an acknowledgement on one web instance shows live on a page of another (Chromium, two instances)",
  opts,
  async () => {
    const assets = await loadStaticAssets();
    await withWebApp(async ({ app, sql, hub, instance }) => {
      const now = Date.now();
      await insertAnomalies(
        sql,
        [1, 2, 3].map((i) => ({ id: `a${i}`, detected_at: new Date(now - i * 60_000) })),
      );
      const second = await instance();
      const web1 = serveApp(app);
      const web2 = serveApp(second.app);
      const browser = await launchBrowser();
      await browser.context.addInitScript((token) => {
        localStorage.setItem("vigil.token", token);
        localStorage.setItem("vigil.user", "carol");
      }, TOKEN);
      // Carol on instance 1 works down the "not acknowledged" list; Bob on instance 2 sees all,
      // with a1 open.
      const carol = browser.page;
      const bob = await browser.context.newPage();
      const bobErrors: string[] = [];
      bob.on("console", (m) => m.type() === "error" && bobErrors.push(m.text()));
      bob.on("pageerror", (e) => bobErrors.push(String(e)));
      try {
        await carol.goto(`${web1.base}/?acknowledged=false`);
        await bob.goto(`${web2.base}/alerts/a1`);
        for (const page of [carol, bob]) {
          await page.waitForSelector('.row[data-id="a3"]');
          await page.waitForSelector('.live[data-state="live"]', { timeout: 15_000 });
        }
        await bob.waitForSelector(".detail h2:text('anomaly a1')");
        await waitUntil(() => hub.size === 1 && second.hub.size === 1, "a live page on each");

        // Carol acknowledges a2: Bob's row says so.
        await acknowledge(carol, "a2", "looking");
        await bob.waitForSelector('.row[data-id="a2"] .tag:text-is("ack")', { timeout: LIVE_MS });

        // Dave acknowledges a1 through instance 1's API: it leaves Carol's list, and Bob's open
        // detail shows who, with nothing left to acknowledge.
        const dave = await sendJson(app, "POST", "/api/anomalies/a1/ack", {
          by: "dave",
          comment: "mine",
        }, AUTH);
        assert.equal(dave.status, 200);
        await carol.waitForFunction(() => !document.querySelector('.row[data-id="a1"]'), null, {
          timeout: LIVE_MS,
        });
        await bob.waitForSelector(".detail .facts .ack dd:text-matches('^by dave at .*“mine”$')", {
          timeout: LIVE_MS,
        });
        assert.equal(
          await bob.locator(".detail .actions button:text-is('Acknowledge')").count(),
          0,
        );
        assert.equal(await bob.locator('.row[data-id="a1"] .tag:text-is("ack")').count(), 1);

        // Bob acknowledges a3 on instance 2: Carol's list has nothing left.
        await bob.click(".detail .close");
        await acknowledge(bob, "a3", "done");
        await carol.waitForSelector(".list .empty", { timeout: LIVE_MS });
        assert.deepEqual(await ids(carol), []);
        assert.equal(await carol.textContent(".list-foot .count"), "0 shown");
        assert.deepEqual(await ids(bob), ["a1", "a2", "a3"]);
        assert.deepEqual(browser.errors, []);
        assert.deepEqual(bobErrors, []);
      } finally {
        await browser.close();
        await web1.close();
        await web2.close();
      }
    }, { assets, token: TOKEN });
  },
);

Deno.test(
  "an acknowledgement told while the list is read stays applied (Chromium)",
  opts,
  async () => {
    const assets = await loadStaticAssets();
    await withWebApp(async ({ app, sql, hub }) => {
      const now = Date.now();
      await insertAnomalies(
        sql,
        [1, 2].map((i) => ({ id: `r${i}`, detected_at: new Date(now - i * 60_000) })),
      );
      const web = serveApp(app);
      const browser = await launchBrowser();
      const { page } = browser;
      await browser.context.addInitScript(countLiveAcks);
      // The first read of the list is answered by the server, then held back by the test.
      let release!: (held: { route: Route; response: Awaited<ReturnType<Route["fetch"]>> }) => void;
      const held = new Promise<Parameters<typeof release>[0]>((r) => release = r);
      let first = true;
      await page.route(/\/api\/anomalies\?/, async (route) => {
        if (!first) return await route.continue();
        first = false;
        release({ route, response: await route.fetch() });
      });
      try {
        await page.goto(`${web.base}/?acknowledged=false`);
        const { route, response } = await held;
        await page.waitForSelector('.live[data-state="live"]', { timeout: 15_000 });
        await waitUntil(() => hub.size === 1, "the page's live connection");
        // Acknowledged after the server read the page: the page's answer still lists r1.
        const ack = await sendJson(app, "POST", "/api/anomalies/r1/ack", { by: "dave" }, AUTH);
        assert.equal(ack.status, 200);
        // The page has the ack event (a fixed wait let it come after the answer on a busy machine).
        await page.waitForFunction(
          () => (globalThis as { liveAcks?: number }).liveAcks === 1,
          null,
          {
            timeout: 15_000,
          },
        );
        const answered = page.waitForResponse((r: Response) => r.url().includes("/api/anomalies?"));
        await route.fulfill({ response });
        await answered;
        await page.waitForSelector('.row[data-id="r2"]');
        await page.waitForTimeout(300); // the page applies the answer
        assert.deepEqual(await ids(page), ["r2"]);
        assert.deepEqual(browser.errors, []);
      } finally {
        await browser.close();
        await web.close();
      }
    }, { assets, token: TOKEN });
  },
);

Deno.test(
  "an acknowledgement shows on an open entity page at once, not at its 30 s reload (Chromium)",
  opts,
  async () => {
    const assets = await loadStaticAssets();
    await withWebApp(async ({ app, sql, hub }) => {
      await insertAnomalies(sql, [{ id: "e1", detected_at: new Date(Date.now() - 60_000) }]);
      const web = serveApp(app);
      const browser = await launchBrowser();
      const { page } = browser;
      try {
        const opened = Date.now(); // the page's 30 s reload timer starts after this
        await page.goto(`${web.base}/entities/checkout`);
        await page.waitForSelector('.entity-anomalies a[data-id="e1"]');
        await page.waitForSelector('.live[data-state="live"]', { timeout: 15_000 });
        await waitUntil(() => hub.size === 1, "the page's live connection");
        assert.equal(await page.locator('a[data-id="e1"] .tag:text-is("ack")').count(), 0);
        const ack = await sendJson(app, "POST", "/api/anomalies/e1/ack", { by: "dave" }, AUTH);
        assert.equal(ack.status, 200);
        // Before: the entity page listened to alerts only; the tag came with its 30 s reload.
        await page.waitForSelector('a[data-id="e1"] .tag:text-is("ack")', { timeout: 2 * LIVE_MS });
        const shownAfter = Date.now() - opened;
        assert.ok(
          shownAfter < 30_000,
          `shown ${shownAfter} ms after opening: perhaps the reload's`,
        );
        assert.deepEqual(browser.errors, []);
      } finally {
        await browser.close();
        await web.close();
      }
    }, { assets, token: TOKEN });
  },
);

Deno.test(
  "an acknowledgement told right after its alert (both within one live flush) stays applied (Chromium)",
  opts,
  async () => {
    const assets = await loadStaticAssets();
    await withWebApp(async ({ app, sql, hub, redis, keys }) => {
      const now = Date.now();
      await insertAnomalies(sql, [{ id: "q0", detected_at: new Date(now - 60_000) }]);
      const web = serveApp(app);
      const browser = await launchBrowser();
      const { page } = browser;
      const alert = (id: string, ms: number) =>
        testAlert({
          id,
          detected_at: new Date(ms).toISOString(),
          event_time: new Date(ms).toISOString(),
          severity: "WARNING",
        });
      try {
        await page.goto(web.base + "/?acknowledged=false");
        await page.waitForSelector('.live[data-state="live"]', { timeout: 15_000 });
        await page.waitForSelector('.row[data-id="q0"]');
        await waitUntil(() => hub.size === 1, "the page's live connection");
        await page.waitForTimeout(500); // the first reads are answered
        // A new anomaly, acknowledged at once (a script, another page quicker to it): both come
        // before the page applies its live alerts (every 150 ms at most: q-pre was just applied).
        await redis.publish(keys.alertsChannel(), JSON.stringify(alert("q-pre", now - 1)));
        await redis.publish(keys.alertsChannel(), JSON.stringify(alert("q1", now)));
        await redis.publish(
          keys.acksChannel(),
          JSON.stringify({
            id: "q1",
            entity: "checkout",
            acknowledged_at: new Date(now + 10).toISOString(),
            acknowledged_by: "bot",
            ack_comment: null,
          }),
        );
        await page.waitForTimeout(300);
        await redis.publish(keys.alertsChannel(), JSON.stringify(alert("q2", now + 20)));
        await page.waitForSelector('.row[data-id="q2"]', { timeout: LIVE_MS });
        assert.deepEqual(
          await ids(page),
          ["q2", "q-pre", "q0"],
          "q1 is acknowledged: not in this list",
        );
        assert.deepEqual(browser.errors, []);
      } finally {
        await browser.close();
        await web.close();
      }
    }, { assets });
  },
);
