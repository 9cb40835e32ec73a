import assert from "node:assert/strict";
import { type RedisTestContext, withRedis } from "@vigil/tools/testing/redis";
import { withPg } from "@vigil/tools/testing/pg";
import type { Sql } from "postgres";
import { silentLogger } from "@vigil/tools/testing/log";
import { GROUPS } from "@vigil/shared/keys";
import { startNotifier } from "../app.ts";
import { loadConfig } from "../config.ts";
import { makeAlert, publish, startSmtp, testEnv, type TestSmtp, waitFor } from "./_helpers.ts";

const OPTS = { sanitizeOps: false, sanitizeResources: false };

type Ctx = RedisTestContext & {
  sql: Sql;
  smtp: TestSmtp;
  notifier: Awaited<ReturnType<typeof startNotifier>>;
};

/** A notifier mailing a real SMTP server (`maxBytes`: its size limit), ready; `env` on top. */
async function withSmtpNotifier(
  options: { maxBytes?: number; env?: Record<string, string> },
  fn: (ctx: Ctx) => Promise<void>,
): Promise<void> {
  await withPg(async ({ sql, url }) => {
    await withRedis(async (redisCtx) => {
      const smtp = await startSmtp(0, options.maxBytes ? { maxBytes: options.maxBytes } : {});
      const config = loadConfig(testEnv({
        prefix: redisCtx.prefix,
        databaseUrl: url,
        extra: { SMTP_HOST: "127.0.0.1", SMTP_PORT: String(smtp.port), ...options.env },
      }));
      const notifier = await startNotifier(config, { log: silentLogger() });
      try {
        await notifier.ready;
        await fn({ ...redisCtx, sql, smtp, notifier });
      } finally {
        await notifier.close();
        await smtp.close();
      }
    });
  });
}

Deno.test({
  name: "startNotifier() turns a burst of 50 alerts into one email digest per group over real SMTP",
  ...OPTS,
  fn: () =>
    withSmtpNotifier(
      { env: { GROUP_WAIT: "2s" } },
      async ({ sql, redis, keys, smtp, notifier }) => {
        // 50 alerts whose event times span one minute: 30 CRITICAL, 20 WARNING.
        const base = Date.parse("2025-03-01T10:20:30Z");
        const alerts = Array.from({ length: 50 }, (_, i) =>
          makeAlert({
            severity: i % 5 < 3 ? "CRITICAL" : "WARNING",
            event_time: new Date(base + i * 1000).toISOString(),
            message: `value <${i}> & more`,
          }));
        await publish(redis, keys, alerts);
        await waitFor(() => smtp.messages.length >= 2, "two emails");
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(smtp.messages.length, 2, "one digest per group (type, severity)");

        // Event times of 2025, sent today: the subject dates the window.
        const subjects = smtp.messages.map((m) => m.subject).sort();
        assert.deepEqual(subjects, [
          "[Vigil] 20 WARNING — 2025-03-01 10:20–10:21 UTC",
          "[Vigil] 30 CRITICAL — 2025-03-01 10:20–10:21 UTC",
        ]);
        const seen = new Map<string, number>();
        for (const m of smtp.messages) {
          assert.ok(m.html, "HTML part present");
          assert.ok(m.text, "text part present");
          const html = String(m.html);
          const text = m.text!;
          assert.match(html, /<table/);
          assert.match(html, /Value vs threshold/);
          assert.match(html, /97 vs 90/);
          assert.match(html, /value &lt;\d+&gt; &amp; more/, "HTML escaped");
          assert.match(text, /97 vs 90/);
          assert.match(String(m.messageId), /^<g-[0-9a-f]{24}-.*@vigil\.notifier>$/);
          for (const a of alerts) {
            const link = `http://localhost:8080/alerts/${a.id}`;
            if (text.includes(link)) {
              assert.ok(html.includes(link), "HTML and text list the same alerts");
              seen.set(a.id, (seen.get(a.id) ?? 0) + 1);
            }
          }
        }
        assert.equal(seen.size, 50, "all 50 alerts are in the digests");
        assert.ok([...seen.values()].every((n) => n === 1), "each alert in exactly one digest");

        // Recorded (once the SMTP server's answer is back, a moment after it has the message)
        // and acknowledged.
        const emailRows = () =>
          sql<{ status: string; alert_count: number; sent_at: Date | null }[]>`
          SELECT status, alert_count, sent_at FROM notifications WHERE channel = 'email'
          ORDER BY alert_count`;
        await waitFor(
          async () => {
            const rows = await emailRows();
            return rows.length === 2 && rows.every((r) => r.status !== "pending");
          },
          "both emails recorded",
        );
        const rows = await emailRows();
        assert.deepEqual(rows.map((r) => [r.status, r.alert_count]), [["sent", 20], [
          "sent",
          30,
        ]]);
        assert.ok(rows.every((r) => r.sent_at));
        await waitFor(async () => {
          const p = await redis.xpending(keys.alerts(), GROUPS.notifier) as [number];
          return p[0] === 0;
        }, "all entries acknowledged");
        const metrics = await notifier.registry.render();
        assert.match(metrics, /vigil_notifier_digests_total\{channel="email",status="sent"\} 2/);
        assert.match(metrics, /vigil_notifier_alerts_total\{status="firing"\} 50/);
      },
    ),
});

Deno.test({
  name:
    "startNotifier() dead-letters invalid alert entries with their reason and acknowledges them",
  ...OPTS,
  fn: async () => {
    await withPg(async ({ url }) => {
      await withRedis(async ({ redis, keys, prefix }) => {
        const outbox = `./data/test-outbox-${crypto.randomUUID().slice(0, 8)}`;
        const config = loadConfig(
          testEnv({ prefix, databaseUrl: url, extra: { OUTBOX_DIR: outbox } }),
        );
        const notifier = await startNotifier(config, { log: silentLogger() });
        try {
          await notifier.ready;
          await redis.xadd(keys.alerts(), "*", "alert", "{not json");
          await redis.xadd(
            keys.alerts(),
            "*",
            "alert",
            JSON.stringify({ id: "x", status: "weird" }),
          );
          await redis.xadd(keys.alerts(), "*", "other", "field");
          const dlq = await waitFor(async () => {
            const entries = await redis.xrange(keys.dlq(), "-", "+");
            return entries.length === 3 ? entries : null;
          }, "three dead letters");
          const reasons = dlq.map(([, f]) => f[f.indexOf("reason") + 1]);
          assert.match(reasons[0]!, /^invalid JSON/);
          assert.match(reasons[1]!, /^invalid alert: .*status/);
          assert.equal(reasons[2], "missing field: alert");
          assert.ok(dlq.every(([, f]) => f[f.indexOf("source") + 1] === "notifier"));
          await waitFor(async () => {
            const p = await redis.xpending(keys.alerts(), GROUPS.notifier) as [number];
            return p[0] === 0;
          }, "acknowledged");
        } finally {
          await notifier.close();
          await Deno.remove(outbox, { recursive: true }).catch(() => {});
        }
      });
    });
  },
});

Deno.test({
  name:
    "startNotifier() mails an alert storm to a server with a size limit: the digest lists 500 rows and links to the rest",
  ...OPTS,
  fn: () =>
    // GROUP_WAIT 5 s: the 2,000 alerts must all be taken in before the digest (inside the whole
    // parallel suite, the default 1 s test wait closed it after 1,842).
    withSmtpNotifier(
      { maxBytes: 1024 * 1024, env: { GROUP_WAIT: "5s" } },
      async ({ sql, redis, keys, smtp }) => {
        const storm = Array.from({ length: 2000 }, () => makeAlert({ severity: "CRITICAL" }));
        await publish(redis, keys, storm);
        // Before: every row listed (1.3 MB), refused with 552 and recorded failed for good.
        await waitFor(
          async () => {
            const [row] = await sql<{ status: string }[]>`
          SELECT status FROM notifications WHERE channel = 'email'`;
            return row && row.status !== "pending" ? row : undefined;
          },
          "the digest sent or failed",
          30_000,
        );
        const rows = await sql<{ status: string; alert_count: number; error: string | null }[]>`
        SELECT status, alert_count, error FROM notifications WHERE channel = 'email'`;
        assert.deepEqual(
          rows.map((r) => [r.status, r.alert_count]),
          [["sent", 2000]],
          rows[0]?.error ?? "",
        );
        assert.equal(smtp.messages.length, 1);
        const mail = smtp.messages[0]!;
        assert.equal(mail.subject?.startsWith("[Vigil] 2000 CRITICAL"), true, mail.subject);
        const text = mail.text!;
        assert.equal(text.match(/\/alerts\//g)?.length, 500, "500 rows, each with its link");
        assert.match(
          text,
          /… and 1500 more CRITICAL alerts not listed here \(a digest lists 500 at most\)\n {2}http:\/\/localhost:8080\/\?type=metrics&severity=CRITICAL&resolved=false/,
        );
        assert.match(
          String(mail.html),
          /and 1500 more CRITICAL alerts[^<]*: <a href="http:\/\/localhost:8080\/\?type=metrics&amp;severity=CRITICAL&amp;resolved=false">view them<\/a>/,
        );
      },
    ),
});
