import assert from "node:assert/strict";
import { loadStaticAssets } from "../static.ts";
import { launchBrowser, serveApp } from "./_browser.ts";
import { insertAnomalies, withWebApp } from "./_helpers.ts";

// playwright and ioredis keep handles; everything is closed in finally.
const opts = { sanitizeOps: false, sanitizeResources: false };

/** `HH:MM:SS` of `ms` in `timeZone`, 24-hour, Latin digits. */
function clock(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat("en-US", {
    hourCycle: "h23",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    timeZone,
  }).format(ms);
}

/** The page's time of `ms` in `timeZone` (`HH:MM:SS` today there, `Mon D, HH:MM` another day). */
function shown(ms: number, timeZone: string): string {
  const day = (t: number) => new Intl.DateTimeFormat("en-CA", { timeZone }).format(t);
  if (day(ms) === day(Date.now())) return clock(ms, timeZone);
  return new Intl.DateTimeFormat("en-US", {
    hourCycle: "h23",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    timeZone,
  }).format(ms);
}

/** The short English name of `timeZone` now: `GMT+13:45` (`GMT+12:45` in Chatham's winter). */
function zoneNow(timeZone: string): string {
  return new Intl.DateTimeFormat("en-US", { timeZone, timeZoneName: "short" }).formatToParts(
    Date.now(),
  ).find((p) => p.type === "timeZoneName")!.value;
}

// The page is in English: its times and numbers read the same in every browser language, as
// docs/web.md shows them (`14:03:12 UTC`, `15:03:12 GMT+1`, `1,234`), whatever the locale.
const CASES = [
  // German: a decimal comma and a thousands dot; 1234 must not read as 1.234.
  { locale: "de-DE", timezoneId: "Pacific/Chatham", zone: zoneNow("Pacific/Chatham") },
  // Arabic (Egypt): Arabic-Indic digits and an Arabic zone name.
  { locale: "ar-EG", timezoneId: "Asia/Kolkata", zone: "GMT+5:30" },
  // Canadian French: `12 h 52`, and zone names in French (`HNT`).
  { locale: "fr-CA", timezoneId: "America/St_Johns", zone: zoneNow("America/St_Johns") },
  // Hindi (India): lakh grouping of the thousands.
  { locale: "hi-IN", timezoneId: "Pacific/Kiritimati", zone: "GMT+14" },
];

for (const c of CASES) {
  Deno.test(
    `times and numbers read the same in a ${c.locale} browser in ${c.timezoneId} (Chromium)`,
    opts,
    async () => {
      const assets = await loadStaticAssets();
      await withWebApp(async ({ app, sql }) => {
        const t = Date.now() - 2 * 60_000;
        await insertAnomalies(sql, [{
          id: "loc-1",
          detected_at: new Date(t),
          title: "locale check",
          details: { amount: 123456.5, threshold: 1234, ratio: 1.234, count: 0, big: 1234567 },
        }]);
        const web = serveApp(app);
        const browser = await launchBrowser({ timezoneId: c.timezoneId, locale: c.locale });
        const { page } = browser;
        try {
          await page.goto(`${web.base}/alerts/loc-1`);
          await page.waitForSelector(".detail .facts");
          const detected = () => page.textContent(".detail .facts div:has(dt:text('Detected')) dd");
          const value = (k: string) =>
            page.textContent(`.detail table.kv tr:has(th:text-is('${k}')) td`);
          assert.equal(await detected(), `${shown(t, "UTC")} UTC`);
          assert.equal(await value("amount"), "123,456.5");
          assert.equal(await value("threshold"), "1,234");
          assert.equal(await value("ratio"), "1.234");
          assert.equal(await value("count"), "0");
          assert.equal(await value("big"), "1,234,567");

          await page.selectOption("#tz-select", "local");
          await page.waitForFunction(
            (z) => document.querySelector(".chart-zone")?.textContent === `(${z})`,
            c.zone,
          );
          assert.equal(await detected(), `${shown(t, c.timezoneId)} ${c.zone}`);
          assert.match(
            (await page.textContent("#tz-select option[value=local]")) ?? "",
            new RegExp(`^Local \\([\\w/]+, ${c.zone.replace("+", "\\+")}\\)$`),
          );
          const ticks = await page.locator(".chart text.tick").allTextContents();
          assert.ok(ticks.slice(3).every((x) => /^\d\d:\d\d$/.test(x)), ticks.join(" | "));
          assert.match(
            (await page.getAttribute('.row[data-id="loc-1"] .time', "title")) ?? "",
            new RegExp(
              `^\\d{4}-\\d\\d-\\d\\d ${clock(t, c.timezoneId)} ${c.zone.replace("+", "\\+")}$`,
            ),
          );
          // No digits but Latin ones anywhere on the page.
          const body = await page.innerText("body");
          assert.doesNotMatch(body, /[\u0660-\u0669\u06f0-\u06f9\u0966-\u096f]/);
          assert.deepEqual(browser.errors, []);
        } finally {
          await browser.close();
          await web.close();
        }
      }, { assets });
    },
  );
}

Deno.test(
  "a time of another year shows its year: a replayed event of 2024 is not read as this year's (Chromium)",
  opts,
  async () => {
    const assets = await loadStaticAssets();
    await withWebApp(async ({ app, sql }) => {
      await insertAnomalies(sql, [{
        id: "old-1",
        detected_at: new Date(),
        event_time: new Date("2024-03-01T14:03:00Z"),
      }]);
      const web = serveApp(app);
      const browser = await launchBrowser({ timezoneId: "Pacific/Kiritimati" });
      const { page } = browser;
      try {
        await page.goto(`${web.base}/alerts/old-1`);
        await page.waitForSelector(".detail .facts");
        const eventTime = () =>
          page.textContent(".detail .facts div:has(dt:text('Event time')) dd");
        assert.equal(await eventTime(), "Mar 1, 2024, 14:03 UTC");
        await page.selectOption("#tz-select", "local");
        await page.waitForFunction(() =>
          document.querySelector(".chart-zone")?.textContent === "(GMT+14)"
        );
        assert.equal(await eventTime(), "Mar 2, 2024, 04:03 GMT+14");
        assert.deepEqual(browser.errors, []);
      } finally {
        await browser.close();
        await web.close();
      }
    }, { assets });
  },
);
