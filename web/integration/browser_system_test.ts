/**
 * The System panel with real services behind it: a real detector process at
 * DETECTOR_URL (its rules version, and a bad rules file it rejected while the
 * old rules kept running) and a retention run of the real runner on the test
 * database (rows deleted per table, ages, next run; a run cut by shutdown, one
 * that spent its batch budget, an overdue one, one that failed on a missing
 * table). Screenshot:
 * test-output/web/system.png.
 */
import assert from "node:assert/strict";
import { silentLogger } from "@vigil/tools/testing/log";
import { Registry } from "@vigil/shared/metrics";
import { RETENTION_POLICIES } from "@vigil/shared/retention/policy";
import { createRetentionMetrics, runRetention } from "@vigil/shared/retention/run";
import { recordRetentionRun } from "@vigil/shared/retention/runs";
import { type LogLine, spawnService } from "@vigil/tools/testing/services";
import { TEST_REDIS_URL } from "@vigil/tools/testing/redis";
import { loadStaticAssets } from "../static.ts";
import { stablePort } from "@vigil/tools/testing/ports";
import { launchBrowser, serveApp } from "./_browser.ts";
import { withWebApp } from "./_helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const DAY = 86_400_000;

Deno.test(
  "the System panel shows the detector's rules in force and the last retention run (Chromium)",
  opts,
  async () => {
    const assets = await loadStaticAssets();
    const port = stablePort(); // the service binds it seconds later
    const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "vigil-system-" }));
    const rulesFile = `${dir}/rules.json`;
    await Deno.writeTextFile(
      rulesFile,
      JSON.stringify({ logs: { error_spike: { threshold: 5 } } }),
    );
    try {
      await withWebApp(async ({ app, sql, keys, url }) => {
        const detector = await spawnService(
          "detector",
          {
            REDIS_URL: TEST_REDIS_URL,
            DATABASE_URL: url,
            VIGIL_PREFIX: keys.prefix,
            DETECTOR_PORT: String(port),
            DETECTOR_RULES_FILE: rulesFile,
            DETECTOR_BLOCK: "100ms",
            LOG_LEVEL: "info",
          },
          [],
          { allowRead: [dir] },
        );
        const web = serveApp(app);
        const browser = await launchBrowser();
        try {
          await detector.opsPort();
          // A bad file: rejected with its reason, the rules above keep running.
          // Written again every 2 s until the detector reacts: a write in the
          // first moments after start can come before its file watch is in place
          // (seen once in CI, no reload at all in 20 s).
          const rejected = (l: LogLine) =>
            l.msg === "rules file rejected: the rules in force keep running";
          for (let attempt = 1;; attempt++) {
            await Deno.writeTextFile(
              rulesFile,
              JSON.stringify({ logs: { error_spike: { threshold: 0 } } }) + " ".repeat(attempt),
            );
            try {
              await detector.waitForLine(rejected, "the rejection", 2_000);
              break;
            } catch (error) {
              if (attempt === 10) throw error;
            }
          }
          const inForce = await (await fetch(`http://127.0.0.1:${port}/api/rules`)).json() as {
            version: { hash: string };
          };

          // Two expired silences, older than the 30 days silences are kept: the real
          // runner deletes them and records its run.
          for (const id of ["s-old-1", "s-old-2"]) {
            await sql`INSERT INTO silences (id, matchers, starts_at, ends_at, author)
              VALUES (${id}, '{}', ${new Date(Date.now() - 40 * DAY)},
                ${new Date(Date.now() - 31 * DAY)}, 'test')`;
          }
          const report = await runRetention({
            sql,
            log: silentLogger(),
            metrics: createRetentionMetrics(new Registry()),
            now: Date.now,
          }, {
            ages: Object.fromEntries(RETENTION_POLICIES.map((p) => [p.table, p.defaultAgeMs])),
            batchSize: 1000,
            maxBatches: 100,
            intervalMs: 3_600_000,
          });
          assert.equal(report?.deleted.silences, 2);

          const { page } = browser;
          await page.goto(web.base);
          await page.waitForSelector(".system-card summary");
          await page.click(".system-card summary");
          await page.waitForSelector(".system-rules[data-version]");
          assert.equal(
            await page.getAttribute(".system-rules", "data-version"),
            inForce.version.hash,
          );
          const rules = (await page.textContent(".system-rules")) ?? "";
          assert.match(rules, new RegExp(`Version ${inForce.version.hash.slice(0, 12)} from `));
          assert.ok(rules.includes(rulesFile), "the rules file is named");
          assert.match(rules, /Entries: .*logs/);
          assert.match(
            (await page.textContent(".system-rejected")) ?? "",
            /Last rejected file \(file changed, .*\): .*logs\.error_spike\.threshold/,
          );
          assert.match(
            (await page.textContent(".system-card summary")) ?? "",
            /Rules [0-9a-f]{12} · a rules file was rejected · retention ran \d+s ago/,
          );
          await page.waitForSelector(".system-retention[data-outcome=done]");
          assert.match(
            (await page.textContent(".system-retention p")) ?? "",
            /Last run \d+s ago \(done\), deleted 2 rows, next in (59m|1h)\./,
          );
          const silences = page.locator(".system-retention tr[data-table=silences] td");
          assert.deepEqual(await silences.allTextContents(), ["silences", "30d", "2"]);
          const events = page.locator(".system-retention tr[data-table=anomaly_events] td");
          assert.deepEqual(await events.allTextContents(), ["anomaly_events", "90d", "0"]);
          await browser.screenshot("system.png");
          assert.deepEqual(browser.errors, []);

          // Runs of the real runner that left tables unfinished, each shown for what it was.
          const retention = (maxBatches: number, signal?: AbortSignal) =>
            runRetention({
              sql,
              log: silentLogger(),
              metrics: createRetentionMetrics(new Registry()),
              now: Date.now,
            }, {
              ages: Object.fromEntries(RETENTION_POLICIES.map((p) => [p.table, p.defaultAgeMs])),
              batchSize: 1,
              maxBatches,
              intervalMs: 3_600_000,
            }, signal ? { signal } : {});
          const lastRun = async (outcome: string) => {
            await page.reload();
            await page.click(".system-card summary");
            await page.waitForSelector(`.system-retention[data-outcome=${outcome}]`);
            return (await page.textContent(".system-retention p")) ?? "";
          };
          // Cut by shutdown (before its first batch). Before: "batch budget spent".
          const shutdown = new AbortController();
          shutdown.abort(new Error("shutdown"));
          await retention(100, shutdown.signal);
          const cut = await lastRun("interrupted");
          assert.match(cut, /\(interrupted\), deleted 0 rows\. Unfinished \(cut by shutdown; /);
          assert.match(cut, /: anomaly_events, notifier_digests, .*silences\.$/);
          assert.doesNotMatch(cut, /budget|next in|due/);
          // Two expired silences and a budget of one: a catch-up run follows within seconds.
          // Before: "next in 59m".
          for (const id of ["s-old-3", "s-old-4"]) {
            await sql`INSERT INTO silences (id, matchers, starts_at, ends_at, author)
              VALUES (${id}, '{}', ${new Date(Date.now() - 40 * DAY)},
                ${new Date(Date.now() - 31 * DAY)}, 'test')`;
          }
          assert.deepEqual((await retention(1))?.unfinished, ["silences"]);
          assert.match(
            await lastRun("done"),
            /deleted 1 row, next (in \d+s|due now)\. Unfinished \(batch budget spent; a catch-up run follows\): silences\.$/,
          );
          // No run for three hours (no notifier runs retention): overdue, not "due now".
          await recordRetentionRun(sql, {
            started_at: new Date(Date.now() - 3 * 3_600_000).toISOString(),
            finished_at: new Date(Date.now() - 3 * 3_600_000).toISOString(),
            outcome: "done",
            deleted: {},
            unfinished: [],
            ages_ms: {},
            interval_ms: 3_600_000,
          });
          assert.match(await lastRun("done"), /deleted 0 rows, next was due 2h ago\.$/);
          // A table missing: the run fails on it and prunes the others; the panel names it.
          await sql`ALTER TABLE notification_attempts RENAME TO notification_attempts_gone`;
          await retention(100);
          assert.match(
            await lastRun("failed"),
            /\(failed\), .*\. Failed: notification_attempts \(left for the next run; /,
          );
          assert.deepEqual(browser.errors, []);

          // PostgreSQL out of reach: retention cannot be read, the detector's rules still are
          // (they were asked for only after retention answered: "Rules: loading…" for good).
          await page.route("**/api/system/retention", (route) =>
            route.fulfill({
              status: 503,
              contentType: "application/json",
              body: JSON.stringify({ error: "Cannot read retention runs: database unreachable" }),
            }));
          await page.reload();
          await page.waitForSelector(".system-card summary");
          await page.click(".system-card summary");
          await page.waitForSelector(".system-rules[data-version]", { timeout: 10_000 });
        } finally {
          await browser.close();
          await detector.stop();
          await web.close();
        }
      }, { assets, detectorUrl: `http://127.0.0.1:${port}` });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
