/**
 * What the live view shows as its state changes under a user: a filter
 * changed while scrolled deep starts at the newest rows of the new filter; a
 * live resolution of an anomaly not loaded yet does not jump to the top of
 * the list; the detail view shows the anomaly last opened even when an
 * earlier one answers later; filters written in a link are read as the API
 * reads them (live alerts included).
 */
import assert from "node:assert/strict";
import type { Route } from "playwright-core";
import type { Alert } from "@vigil/shared/schemas/alert";
import { testAlert } from "@vigil/tools/testing/alert";
import { loadStaticAssets } from "../static.ts";
import { launchBrowser, serveApp } from "./_browser.ts";
import { insertAnomalies, withWebApp } from "./_helpers.ts";
import { waitUntil } from "./_sse.ts";

// playwright and ioredis keep handles; everything is closed in finally.
const opts = { sanitizeOps: false, sanitizeResources: false };

const id = (i: number) => `st-${String(i).padStart(3, "0")}`;

function alert(i: string, ms: number, extra: Partial<Alert> = {}): Alert {
  const at = new Date(ms).toISOString();
  return testAlert({
    id: i,
    detected_at: at,
    event_time: at,
    type: "logs",
    rule: "threshold",
    severity: "WARNING",
    entity: "svc-a",
    title: `anomaly ${i}`,
    message: `message of ${i}`,
    score: null,
    details: {},
    ...extra,
  });
}

Deno.test(
  "the list and the detail view follow the user: filters, scroll, late answers, resolutions (Chromium)",
  opts,
  async () => {
    const assets = await loadStaticAssets();
    await withWebApp(async ({ app, sql, redis, keys, hub }) => {
      const now = Date.now();
      const at = (i: number) => now - 60_000 - i * 60_000;
      await insertAnomalies(
        sql,
        Array.from({ length: 150 }, (_, i) => ({
          id: id(i),
          detected_at: new Date(at(i)),
          type: i % 2 ? "metrics" as const : "logs" as const,
          entity: "svc-a",
          title: `anomaly ${id(i)}`,
        })),
      );
      const web = serveApp(app);
      const browser = await launchBrowser();
      const { page } = browser;
      const firstInView = () =>
        page.evaluate(() => {
          const list = document.querySelector(".list")!;
          const top = list.getBoundingClientRect().top;
          return [...document.querySelectorAll(".row")]
            .filter((r) => r.getBoundingClientRect().top >= top - 1)
            .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top)[0]
            ?.getAttribute("data-id");
        });
      const count = () => page.textContent(".list-foot .count");
      try {
        // Filters written by hand in a link read as the API reads them (any case, spaces),
        // live alerts included.
        await page.goto(`${web.base}/?severity=warning&entity=svc-a%20`);
        await page.waitForSelector('.live[data-state="live"]', { timeout: 15_000 });
        await page.waitForSelector(`.row[data-id="${id(0)}"]`);
        await waitUntil(() => hub.size === 1, "the page's live connection");
        assert.equal(await page.inputValue("#filter-severity"), "WARNING");
        assert.equal(await page.inputValue("#filter-entity"), "svc-a");
        assert.equal(new URL(page.url()).search, "?severity=WARNING&entity=svc-a");

        // 1. A live resolution of an anomaly not loaded yet (page 2) stays out of the top.
        await sql`UPDATE anomaly_events SET resolved_at = now() WHERE id = ${id(140)}`;
        await redis.publish(
          keys.alertsChannel(),
          JSON.stringify(
            alert(id(140), at(140), {
              type: "logs",
              status: "resolved",
              resolved_at: new Date().toISOString(),
            }),
          ),
        );
        const fresh = alert("st-new", Date.now());
        await insertAnomalies(sql, [{
          id: fresh.id,
          detected_at: new Date(fresh.detected_at),
          type: "logs",
          entity: "svc-a",
          title: fresh.title,
        }]);
        await redis.publish(keys.alertsChannel(), JSON.stringify(fresh));
        await page.waitForSelector('.row[data-id="st-new"]', { timeout: 5000 });
        await page.waitForTimeout(300);
        assert.deepEqual(
          await page.locator(".row").evaluateAll((els) =>
            els.slice(0, 3).map((e) => e.getAttribute("data-id"))
          ),
          ["st-new", id(0), id(1)],
          "an old anomaly's resolution is not news",
        );
        assert.equal(await count(), "101+ shown");

        // Scrolled to the end: every row once, the resolved one in its place.
        for (
          const until = Date.now() + 8000;
          Date.now() < until && (await count()) !== "151 shown";
        ) {
          await page.evaluate(() => {
            const list = document.querySelector(".list")!;
            list.scrollTop = list.scrollHeight;
          });
          await page.waitForTimeout(150);
        }
        assert.equal(await count(), "151 shown");
        await page.evaluate(() => {
          const list = document.querySelector(".list")!;
          list.scrollTop = list.scrollHeight;
        });
        // Listed once, resolved, where it belongs.
        await page.waitForSelector(`.row.resolved[data-id="${id(140)}"]`);
        assert.equal(
          await page.evaluate((i) => {
            const rows = [...document.querySelectorAll(".row")];
            const at = rows.findIndex((r) => r.getAttribute("data-id") === i);
            return rows.slice(at - 1, at + 2).map((r) => r.getAttribute("data-id")).join(" ");
          }, id(140)),
          `${id(139)} ${id(140)} ${id(141)}`,
        );

        // 2. A filter chosen while scrolled deep shows the newest rows of the new filter.
        await page.selectOption("#filter-type", "logs");
        await page.waitForFunction(() =>
          document.querySelector(".list-foot .count")?.textContent === "76 shown"
        );
        assert.equal(await firstInView(), "st-new");
        assert.equal(await page.evaluate(() => document.querySelector(".list")!.scrollTop), 0);

        // 3. Two rows opened quickly: the first answers last, the detail shows the second.
        let late!: () => void;
        const answered = new Promise<void>((r) => late = r);
        await page.route(new RegExp(`/api/anomalies/${id(2)}$`), async (route: Route) => {
          const response = await route.fetch();
          await new Promise((r) => setTimeout(r, 600));
          await route.fulfill({ response });
          late();
        });
        await page.click(`.row[data-id="${id(2)}"]`);
        await page.click(`.row[data-id="${id(4)}"]`);
        await page.waitForSelector(`.detail h2:text("anomaly ${id(4)}")`);
        await answered;
        await page.waitForTimeout(200); // the page had the late answer
        assert.equal(await page.textContent(".detail h2"), `anomaly ${id(4)}`);
        assert.equal(new URL(page.url()).pathname, `/alerts/${id(4)}`);
        await page.keyboard.press("Escape");
        await page.waitForSelector(".detail", { state: "detached" });
        // The page writes its URL in an effect after the render: under load the detail left the
        // DOM a moment before its history entry came, and Back then went one step too far.
        await page.waitForURL((u) => u.pathname === "/");

        // Back and Forward step through what was opened and chosen, within the page.
        const path = () =>
          decodeURIComponent(new URL(page.url()).pathname + new URL(page.url()).search);
        await page.goBack();
        await page.waitForSelector(`.detail h2:text("anomaly ${id(4)}")`);
        assert.equal(path(), `/alerts/${id(4)}?type=logs&severity=WARNING&entity=svc-a`);
        await page.goBack();
        await page.waitForSelector(`.detail h2:text("anomaly ${id(2)}")`);
        await page.goBack();
        await page.waitForSelector(".detail", { state: "detached" });
        assert.equal(path(), "/?type=logs&severity=WARNING&entity=svc-a");
        await page.goBack();
        await page.waitForFunction(() =>
          document.querySelector(".list-foot .count")?.textContent === "100+ shown"
        );
        assert.equal(await page.inputValue("#filter-type"), "");
        assert.equal(path(), "/?severity=WARNING&entity=svc-a");
        await page.goForward();
        await page.waitForFunction(() =>
          document.querySelector(".list-foot .count")?.textContent === "76 shown"
        );
        assert.equal(await page.inputValue("#filter-type"), "logs");

        // By keyboard: Enter on a row takes focus into its detail, a few Tabs reach
        // Acknowledge, Escape brings focus back to the row.
        const focused = () =>
          page.evaluate(() =>
            document.activeElement?.closest(".detail")
              ? `detail ${document.activeElement.textContent?.trim()}`
              : document.activeElement?.getAttribute("data-id")
          );
        await page.focus(`.row[data-id="${id(6)}"]`);
        await page.keyboard.press("Enter");
        await page.waitForSelector(`.detail h2:text("anomaly ${id(6)}")`);
        assert.match((await focused()) ?? "", /^detail/);
        const tabs = [];
        for (let i = 0; i < 5 && tabs.at(-1) !== "detail Acknowledge"; i++) {
          await page.keyboard.press("Tab");
          tabs.push(await focused());
        }
        assert.equal(tabs.at(-1), "detail Acknowledge", tabs.join(" | "));
        // Escape in a field leaves the field, its text kept; the next one closes the detail.
        await page.keyboard.press("Enter");
        await page.fill("#ack-comment", "looking into it");
        await page.keyboard.press("Escape");
        assert.equal(await page.locator(".detail").count(), 1, "the detail stays open");
        assert.equal(await page.inputValue("#ack-comment"), "looking into it");
        assert.match((await focused()) ?? "", /^detail/);
        await page.keyboard.press("Escape");
        await page.waitForSelector(".detail", { state: "detached" });
        assert.equal(await focused(), id(6));

        // The open anomaly resolves: its detail says so, as its row does.
        await page.click(`.row[data-id="${id(8)}"]`);
        await page.waitForSelector(`.detail h2:text("anomaly ${id(8)}")`);
        await sql`UPDATE anomaly_events SET resolved_at = now() WHERE id = ${id(8)}`;
        await redis.publish(
          keys.alertsChannel(),
          JSON.stringify(
            alert(id(8), at(8), { status: "resolved", resolved_at: new Date().toISOString() }),
          ),
        );
        // The detail has no timed reload: only the live alert can tell it (generous for a busy CI).
        await page.waitForSelector(`.row.resolved[data-id="${id(8)}"]`, { timeout: 15_000 });
        await page.waitForSelector(".detail .facts dd:text-matches('^resolved at')", {
          timeout: 15_000,
        });

        // 4. A list in a link the select does not offer still shows what is applied.
        await page.goto(`${web.base}/?type=logs,%20metrics`);
        await page.waitForSelector(`.row[data-id="${id(1)}"]`);
        assert.equal(await page.inputValue("#filter-type"), "logs,metrics");
        assert.deepEqual(browser.errors, []);
      } finally {
        await browser.close();
        await web.close();
      }
    }, { assets });
  },
);

Deno.test(
  "two quick Backs keep the steps Forward redoes (Chromium)",
  opts,
  async () => {
    // The page wrote a render's address in an effect: a Back that came before it ran (a loaded
    // machine, a quick user) had that older address pushed as a new step, and Forward was lost.
    const assets = await loadStaticAssets();
    await withWebApp(async ({ app, sql }) => {
      await insertAnomalies(
        sql,
        Array.from({ length: 10 }, (_, i) => ({
          id: id(i),
          detected_at: new Date(Date.now() - 60_000 - i * 60_000),
          type: i % 2 ? "metrics" as const : "logs" as const,
          entity: "svc-a",
          title: `anomaly ${id(i)}`,
        })),
      );
      const web = serveApp(app);
      const browser = await launchBrowser();
      const { page } = browser;
      try {
        await page.goto(`${web.base}/`);
        await page.waitForSelector(`.row[data-id="${id(0)}"]`);
        await page.selectOption("#filter-type", "logs");
        await page.waitForURL((u) => u.search === "?type=logs");
        await page.click(`.row[data-id="${id(2)}"]`);
        await page.waitForURL((u) => u.pathname === `/alerts/${id(2)}`);
        await page.evaluate(async () => {
          const popped = () => new Promise((r) => addEventListener("popstate", r, { once: true }));
          history.back();
          await popped();
          // The first Back is rendered; the main thread stays busy (a loaded machine) while the
          // second Back comes, before the render's effects.
          history.back();
          const busy = performance.now();
          while (performance.now() - busy < 300) { /* busy */ }
          await popped();
          // The page's effects run at most 35 ms after its render.
          await new Promise((r) => setTimeout(r, 200));
        });
        assert.equal(new URL(page.url()).pathname + new URL(page.url()).search, "/");
        await page.goForward();
        await page.waitForURL((u) => u.search === "?type=logs");
        await page.waitForFunction(() =>
          (document.querySelector("#filter-type") as HTMLSelectElement | null)?.value === "logs"
        );
        assert.deepEqual(browser.errors, []);
      } finally {
        await browser.close();
        await web.close();
      }
    }, { assets });
  },
);
