/**
 * The live view by keyboard alone (Tab, Shift-Tab, Enter, Space, Escape): each control is
 * reached with a visible focus indicator; acknowledging and silencing leave focus somewhere
 * sensible; the phone's full-screen detail keeps Tab inside it; new alerts are announced to
 * screen readers; no animation when the user asks for reduced motion. One browser for the file.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { testAlert } from "@vigil/tools/testing/alert";
import { loadStaticAssets } from "../static.ts";
import { launchBrowser, serveApp, type TestBrowser } from "./_browser.ts";
import { insertAnomalies, type WebTestContext, withWebApp } from "./_helpers.ts";

// playwright and ioredis keep handles; everything is closed in finally.
const opts = { sanitizeOps: false, sanitizeResources: false };
const TOKEN = "browser-keyboard-token-7";
const DESKTOP = { width: 1360, height: 860 };
const PHONE = { width: 390, height: 844 };

/** `fn` with k1 … k6 stored (k1 newest) and a page on the app, the token saved. */
async function withPage(
  fn: (ctx: WebTestContext, page: Page, base: string, browser: TestBrowser) => Promise<void>,
): Promise<void> {
  const assets = await loadStaticAssets();
  await withWebApp(async (ctx) => {
    const now = Date.now();
    await insertAnomalies(
      ctx.sql,
      [1, 2, 3, 4, 5, 6].map((i) => ({
        id: `k${i}`,
        detected_at: new Date(now - i * 60_000),
        type: "logs" as const,
        rule: "error_rate",
        entity: `svc-${i}`,
      })),
    );
    const web = serveApp(ctx.app);
    const browser = await launchBrowser({ viewport: DESKTOP });
    await browser.page.addInitScript((token) => {
      // A step that asks for the token turns this off.
      if (!sessionStorage.getItem("test.no-token")) localStorage.setItem("vigil.token", token);
      localStorage.setItem("vigil.user", "dana");
    }, TOKEN);
    try {
      await fn(ctx, browser.page, web.base, browser);
      // The acknowledgement sent without the token is refused (401) on purpose.
      assert.deepEqual(browser.errors.filter((e) => !/status of 401/.test(e)), []);
    } finally {
      await browser.close();
      await web.close();
    }
  }, { assets, token: TOKEN });
}

/** The focused element: a short description, and whether a focus indicator shows. */
function focused(page: Page) {
  return page.evaluate(() => {
    const e = document.activeElement as HTMLElement | null;
    if (!e || e === document.body) return { what: "body", ring: false, seen: false };
    const cs = getComputedStyle(e);
    const r = e.getBoundingClientRect();
    const x = Math.min(innerWidth - 1, Math.max(0, r.left + Math.min(8, r.width / 2)));
    const y = Math.min(innerHeight - 1, Math.max(0, r.top + r.height / 2));
    const hit = document.elementFromPoint(x, y);
    const text = (e.getAttribute("aria-label") ?? e.textContent ?? "").trim().slice(0, 30);
    return {
      what: `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ""} ${text}`,
      ring: cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) > 0,
      // In view and not under something else (a full-screen sheet).
      seen: r.width > 0 && r.bottom > 0 && r.top < innerHeight &&
        Boolean(hit && (e.contains(hit) || hit.contains(e))),
    };
  });
}

/**
 * The focus once it lands on what `re` matches: a page moves focus in an effect after the
 * render that changed the view (under load, a moment after the DOM shows the change).
 */
async function focusOn(page: Page, re: RegExp, message: string) {
  let f = await focused(page);
  for (const end = Date.now() + 5000; !re.test(f.what) && Date.now() < end;) {
    await new Promise((r) => setTimeout(r, 50));
    f = await focused(page);
  }
  assert.match(f.what, re, `${message} (focus on ${f.what})`);
  return f;
}

/** Tab (or Shift-Tab) until `selector` (playwright's) is focused, with a focus indicator. */
async function tabTo(page: Page, selector: string, max = 40, back = false): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press(back ? "Shift+Tab" : "Tab");
    const on = await page.locator(selector).evaluateAll((els) =>
      els.includes(document.activeElement as HTMLElement)
    );
    if (on) {
      const f = await focused(page);
      assert.ok(f.ring && f.seen, `focus indicator on ${f.what}: ${JSON.stringify(f)}`);
      return;
    }
  }
  throw new Error(`Tab never reached ${selector} (at ${(await focused(page)).what})`);
}

/** Whether focus is inside the detail view. */
const inDetail = (page: Page) =>
  page.evaluate(() => Boolean(document.activeElement?.closest(".detail")));

Deno.test("the live view by keyboard and screen reader (Chromium)", opts, async (t) => {
  await withPage(async ({ sql, redis, keys }, page, base) => {
    await t.step("filters, a row, Acknowledge and Silence; focus stays in the detail", async () => {
      await page.goto(`${base}/`);
      await page.waitForSelector('.row[data-id="k6"]');
      // Filters: a select chosen by arrow keys, a text field applied with Enter.
      await tabTo(page, "#filter-severity");
      await tabTo(page, "#filter-rule");
      await page.keyboard.type("error_rate");
      await page.keyboard.press("Enter");
      await page.waitForFunction(() => location.search.includes("rule=error_rate"));
      // Shift-Tab goes back through the filters.
      await tabTo(page, "#filter-type", 10, true);
      // A row opens with Enter; focus moves into the detail.
      await tabTo(page, '.row[data-id="k1"]');
      await tabTo(page, '.row[data-id="k2"]');
      await page.keyboard.press("Enter");
      await page.waitForSelector(".detail h2:text('anomaly k2')");
      assert.ok(await page.evaluate(() => Boolean(document.activeElement?.closest(".detail"))));

      // Acknowledge: the form opens with Space, its first field takes focus.
      await tabTo(page, ".detail .actions button:text-is('Acknowledge')");
      await page.keyboard.press("Space");
      await page.waitForSelector("#ack-comment");
      await focusOn(page, /^input#ack-by /, "the form's first field takes focus");
      await tabTo(page, "#ack-comment");
      await page.keyboard.type("on it");
      await page.keyboard.press("Enter");
      await page.waitForSelector(".detail .notice:text('Acknowledged.')");
      // The button pressed went with the form: focus stays in the detail, on what comes next.
      let f = await focusOn(page, /^button Silence…/, "focus after acknowledging");
      assert.ok(
        await page.evaluate(() => Boolean(document.activeElement?.closest(".detail"))),
        `focus after acknowledging: ${f.what}`,
      );
      assert.ok(f.seen, `focus after acknowledging is visible: ${f.what}`);
      const [ack] = await sql`SELECT ack_comment FROM anomaly_events WHERE id = 'k2'`;
      assert.equal(ack?.ack_comment, "on it");

      // Silence: open, choose a duration with the keyboard, cancel; open again and submit.
      await page.focus(".detail .actions button:text-is('Silence…')");
      await page.keyboard.press("Enter");
      await page.waitForSelector(".action-form select");
      await tabTo(page, ".action-form select");
      await page.keyboard.press("ArrowDown"); // 1 hour -> 4 hours
      assert.equal(await page.inputValue(".action-form select"), "4h");
      await tabTo(page, ".action-form button:text-is('Cancel')");
      await page.keyboard.press("Enter");
      await page.waitForSelector(".action-form", { state: "detached" });
      f = await focusOn(page, /^button Silence…/, "Cancel gives focus back to Silence…");
      await page.keyboard.press("Enter");
      await page.waitForSelector(".action-form select");
      // Escape in a field leaves it (its text kept) and the form stays open.
      await page.fill("#silence-comment", "deploy");
      await page.focus("#silence-comment");
      await page.keyboard.press("Escape");
      assert.equal(await page.inputValue("#silence-comment"), "deploy");
      await page.focus("#silence-comment");
      await tabTo(page, ".action-form select", 10, true);
      await page.keyboard.press("ArrowUp"); // 1 hour -> 30 minutes
      await tabTo(page, ".action-form button[type=submit]");
      await page.keyboard.press("Enter");
      await page.waitForSelector(".detail .notice:text('Silenced until')");
      f = await focusOn(page, /^button Silence…/, "focus after silencing");
      const [s] = await sql`SELECT ends_at - starts_at AS d FROM silences`;
      assert.ok(s, "a silence was made");

      // Escape closes the detail; focus goes back to the row it was opened from.
      await page.keyboard.press("Escape");
      await page.waitForSelector(".detail", { state: "detached" });
      await focusOn(page, /^div /, "Escape gives focus back to the row");
      assert.equal(
        await page.evaluate(() => (document.activeElement as HTMLElement).dataset.id),
        "k2",
      );
    });

    await t.step("the token prompt by keyboard: Acknowledge, paste the token, again", async () => {
      await page.evaluate(() => {
        sessionStorage.setItem("test.no-token", "1");
        localStorage.removeItem("vigil.token");
      });
      await page.goto(`${base}/alerts/k5`);
      await page.waitForSelector(".detail h2:text('anomaly k5')");
      await tabTo(page, ".detail .actions button:text-is('Acknowledge')");
      await page.keyboard.press("Enter");
      await page.waitForSelector("#ack-by");
      await page.keyboard.press("Enter"); // the name is remembered: sent without a token
      await page.waitForSelector(".action-form .token-help");
      await tabTo(page, ".action-form .token-input");
      await page.keyboard.type(TOKEN);
      await page.keyboard.press("Enter"); // saves the token only
      await page.waitForFunction(() => localStorage.getItem("vigil.token") !== null);
      assert.equal(await page.locator(".detail .notice").count(), 0);
      // The refusal and its help go; focus is on the form's button, and a note says to press it.
      await page.waitForSelector(".action-form .token-saved");
      assert.equal(await page.locator(".action-form .token-help, .action-form .error").count(), 0);
      assert.ok(
        await page.locator(".action-form button[type=submit]:text-is('Acknowledge')")
          .evaluate((el) => el === document.activeElement),
        "focus on Acknowledge after Save",
      );
      await page.keyboard.press("Enter");
      await page.waitForSelector(".detail .notice:text('Acknowledged.')");
      assert.ok(await inDetail(page), "focus stays in the detail");
    });

    await t.step(
      "a field chosen as the form opens keeps focus: typing goes where the user is",
      async () => {
        await page.goto(`${base}/alerts/k4`);
        await page.waitForSelector(".detail h2:text('anomaly k4')");
        // The comment field taken at once as it appears (a quick click): the form's first-field
        // focus, an effect after paint, took it back, and what was typed next went into the name
        // (browser_state_test failed 1 run in 6 so: its comment was empty).
        const at = await page.evaluate(async () => {
          const seen = new MutationObserver(() => {
            const comment = document.getElementById("ack-comment");
            if (comment && document.activeElement !== comment) {
              seen.disconnect();
              comment.focus();
            }
          });
          seen.observe(document.body, { childList: true, subtree: true });
          (document.querySelector(".detail .actions button[data-action=ack]") as HTMLElement)
            .click();
          await new Promise((r) => setTimeout(r, 500));
          return document.activeElement?.id;
        });
        assert.equal(at, "ack-comment");
        await page.keyboard.type("mine");
        assert.equal(await page.inputValue("#ack-comment"), "mine");
        assert.equal(await page.inputValue("#ack-by"), "dana");
      },
    );

    await t.step("the zone selector and the theme button, with their names", async () => {
      await page.goto(`${base}/`);
      await page.waitForSelector('.row[data-id="k6"]');
      await tabTo(page, "#tz-select");
      await page.keyboard.press("ArrowDown");
      assert.equal(await page.inputValue("#tz-select"), "local");
      await tabTo(page, "button.theme");
      // Its name says what it is and what is chosen (it said "◐ auto").
      await page.getByRole("button", { name: "Theme: auto" }).waitFor();
      await page.keyboard.press("Enter");
      await page.waitForFunction(() => document.documentElement.dataset.theme === "light");
      await page.keyboard.press("Space");
      await page.getByRole("button", { name: "Theme: dark" }).waitFor();
      await page.keyboard.press("Enter"); // back to auto
      assert.equal(
        await page.getByRole("group", { name: "Anomalies in the last hour" }).count(),
        1,
        "the counters are a named group",
      );
    });

    await t.step("a row's entity link, and the entity page's way back", async () => {
      await tabTo(page, '.row[data-id="k3"] a.entity-link', 60);
      await page.keyboard.press("Enter");
      await page.waitForURL(/\/entities\/svc-3/);
      await page.waitForSelector(".crumbs a");
      await tabTo(page, ".crumbs a >> nth=0");
      await page.keyboard.press("Enter");
      await page.waitForSelector('.row[data-id="k3"]');
      assert.equal(new URL(page.url()).pathname, "/");
    });

    await t.step(
      "phone: Tab stays in the full-screen detail; Escape gives the row back",
      async () => {
        await page.setViewportSize(PHONE);
        await page.goto(`${base}/`);
        await page.waitForSelector('.row[data-id="k4"]');
        await page.focus('.row[data-id="k4"]');
        await page.keyboard.press("Enter");
        await page.waitForSelector(".detail .actions button:text-is('Silence…')");
        for (let i = 0; i < 16; i++) {
          await page.keyboard.press("Tab");
          const f = await focused(page);
          if (f.what === "body") continue; // past the last control, before the first again
          assert.ok(await inDetail(page), `Tab ${i + 1} left the sheet for ${f.what}`);
          assert.ok(f.ring && f.seen, `Tab ${i + 1}: ${JSON.stringify(f)}`);
        }
        await page.focus(".detail .close");
        await page.keyboard.press("Enter");
        await page.waitForSelector(".detail", { state: "detached" });
        assert.equal(
          await page.evaluate(() => (document.activeElement as HTMLElement).dataset.id),
          "k4",
        );
        await tabTo(page, '.row[data-id="k4"] a.entity-link', 2); // the list is no longer inert
        await page.setViewportSize(DESKTOP);
      },
    );

    await t.step("a live alert is told to screen readers, without motion if asked", async () => {
      await page.emulateMedia({ reducedMotion: "reduce" });
      await page.goto(`${base}/`);
      await page.waitForSelector('.row[data-id="k6"]');
      await page.waitForSelector('.live[data-state="live"]');
      const ms = Date.now();
      await insertAnomalies(sql, [{ id: "k0", detected_at: new Date(ms), severity: "CRITICAL" }]);
      await redis.publish(
        keys.alertsChannel(),
        JSON.stringify(testAlert({
          id: "k0",
          severity: "CRITICAL",
          title: "Disk full on db-1",
          detected_at: new Date(ms).toISOString(),
          event_time: new Date(ms).toISOString(),
        })),
      );
      await page.waitForSelector('.row.fresh[data-id="k0"]');
      assert.deepEqual(
        await page.evaluate(() => document.getAnimations().map((a) => String(a.playState))),
        [],
        "no animation under prefers-reduced-motion: reduce",
      );
      const news = page.getByRole("status").filter({ hasText: "New anomaly" });
      await news.waitFor({ state: "attached" });
      assert.equal(await news.textContent(), "New anomaly: CRITICAL Disk full on db-1");
      await page.emulateMedia({ reducedMotion: "no-preference" });
      assert.ok(
        await page.evaluate(() => document.getAnimations().length > 0),
        "the fresh row and the live dot animate otherwise",
      );
    });
  });
});
