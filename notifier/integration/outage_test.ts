/**
 * SMTP down, then back: every alert arrives exactly once; Discord is not held back.
 *
 * The SMTP server is really stopped (connections refused) for the full two
 * minutes of the issue, with the retry backoff of the test config (base
 * 100 ms, cap 1 s) so the outage spans many retry cycles (asserted), as it
 * does with the production backoff (base 1 s, cap 2 min).
 */
import assert from "node:assert/strict";
import { withRedis } from "@vigil/tools/testing/redis";
import { withPg } from "@vigil/tools/testing/pg";
import { silentLogger } from "@vigil/tools/testing/log";
import { GROUPS } from "@vigil/shared/keys";
import { startNotifier } from "../app.ts";
import { loadConfig } from "../config.ts";
import type { DiscordMessage } from "../channels/discord.ts";
import { makeAlert, publish, startFakeHook, startSmtp, testEnv, waitFor } from "./_helpers.ts";

const OUTAGE_MS = 120_000;

Deno.test({
  name:
    "startNotifier() delivers every alert once after an SMTP outage; Discord meanwhile unaffected",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withPg(async ({ sql, url }) => {
      await withRedis(async ({ redis, keys, prefix }) => {
        const smtp = await startSmtp();
        const discord = startFakeHook();
        discord.respond = () => Response.json({ id: "1" });
        const config = loadConfig(testEnv({
          prefix,
          databaseUrl: url,
          extra: {
            SMTP_HOST: "127.0.0.1",
            SMTP_PORT: String(smtp.port),
            DISCORD_WEBHOOK_URL: discord.url,
            GROUP_WAIT: "500ms",
            GROUP_INTERVAL: "1s",
          },
        }));
        const notifier = await startNotifier(config, { log: silentLogger() });
        try {
          await notifier.ready;
          await smtp.stop(); // SMTP down: connections refused from here on
          const downAt = Date.now();
          const wave1 = Array.from(
            { length: 10 },
            (_, i) => makeAlert({ severity: i % 2 ? "CRITICAL" : "WARNING" }),
          );
          await publish(redis, keys, wave1);
          // Discord gets its digests during the outage.
          await waitFor(() => discord.accepted().length >= 2, "discord digests during outage");
          const discordAt = Date.now();
          assert.ok(discordAt - downAt < OUTAGE_MS, "discord was not held back by SMTP");
          await new Promise((r) => setTimeout(r, 1500));
          const wave2 = Array.from({ length: 6 }, () => makeAlert({ severity: "WARNING" }));
          await publish(redis, keys, wave2);
          await waitFor(() => discord.accepted().length >= 3, "discord digest of wave 2");
          const remaining = OUTAGE_MS - (Date.now() - downAt);
          if (remaining > 0) await new Promise((r) => setTimeout(r, remaining));
          assert.equal(smtp.messages.length, 0);
          const failures = await sql<{ n: number }[]>`
            SELECT count(*)::int AS n FROM notification_attempts
            WHERE channel = 'email' AND NOT ok AND retryable`;
          assert.ok(failures[0]!.n >= 5, `retried through the outage (${failures[0]!.n} attempts)`);
          assert.equal(
            ((await redis.xpending(keys.alerts(), GROUPS.notifier)) as [number])[0],
            0,
            "taken in and acknowledged: the deliveries wait in PostgreSQL",
          );
          const waiting = await sql<{ n: number }[]>`
            SELECT count(*)::int AS n FROM notifications WHERE channel = 'email' AND status = 'pending'`;
          assert.ok(waiting[0]!.n >= 1, "email digests pending while SMTP is down");

          await smtp.start(); // back on the same port
          const all = [...wave1, ...wave2];
          // A digest lists its whole group; an alert is *announced* (state "new") once.
          const countIn = (id: string) =>
            smtp.messages.flatMap((m) => String(m.html).split("<tr>"))
              .filter((row) => row.includes(`/alerts/${id}"`) && row.includes(">new<")).length;
          await waitFor(() => all.every((a) => countIn(a.id) >= 1), "all alerts by email", 30_000);
          await waitFor(async () => {
            const [r] = await sql<{ n: number }[]>`
              SELECT count(*)::int AS n FROM notifications WHERE status = 'pending'`;
            return r!.n === 0;
          }, "every notification delivered");
          await new Promise((r) => setTimeout(r, 1000));
          for (const a of all) {
            assert.equal(countIn(a.id), 1, `alert ${a.id} announced once by email`);
          }
          const viaDiscord = discord.accepted().flatMap((r) =>
            (r.body as DiscordMessage).embeds.flatMap((e) => e.fields ?? [])
          );
          for (const a of all) {
            assert.equal(
              viaDiscord.filter((f) => f.value.includes(`/alerts/${a.id})`) && /new/.test(f.value))
                .length,
              1,
              "announced as new on Discord once",
            );
          }
          const rows = await sql<{ status: string }[]>`
            SELECT status FROM notifications WHERE channel = 'email'`;
          assert.ok(rows.length >= 3 && rows.every((r) => r.status === "sent"));
        } finally {
          await notifier.close();
          await smtp.close();
          await discord.close();
        }
      });
    });
  },
});

Deno.test({
  name:
    "startNotifier() gives a channel that keeps failing up after GIVE_UP_AFTER, recorded failed",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withPg(async ({ sql, url }) => {
      await withRedis(async ({ redis, keys, prefix }) => {
        const hook = startFakeHook();
        hook.respond = () => Response.json({ error: "maintenance" }, { status: 503 });
        const config = loadConfig(testEnv({
          prefix,
          databaseUrl: url,
          extra: { WEBHOOK_URL: hook.url, GROUP_WAIT: "200ms", GIVE_UP_AFTER: "3s" },
        }));
        const notifier = await startNotifier(config, { log: silentLogger() });
        try {
          await notifier.ready;
          const alert = makeAlert({ severity: "CRITICAL" });
          await publish(redis, keys, [alert]);
          const [row] = await waitFor(
            async () => {
              const rows = await sql<{ status: string; error: string | null; attempts: number }[]>`
              SELECT status, error, attempts FROM notifications
              WHERE channel = 'webhook' AND status = 'failed'`;
              return rows.length ? rows : null;
            },
            "the webhook notification given up",
            15_000,
          );
          // Why, too: the last attempt's error stays in the row.
          assert.match(
            row!.error ?? "",
            /^gave up after \d+ attempts; the last: HTTP 503: \{"error":"maintenance"\}$/,
          );
          assert.ok(row!.attempts >= 2, `retried before giving up (${row!.attempts} attempts)`);
          const calls = hook.requests.length;
          assert.ok(calls >= 2 && hook.accepted().length === 0);
          // Giving up is no attempt: the row and the attempts table count the sends made (before:
          // one more, "attempts": 3 beside "gave up after 2 attempts", and an attempt row of 0 ms).
          const [tried] = await sql<{ n: number }[]>`
            SELECT count(*)::int AS n FROM notification_attempts WHERE channel = 'webhook'`;
          assert.deepEqual(
            [row!.attempts, tried!.n, Number(/^gave up after (\d+)/.exec(row!.error ?? "")?.[1])],
            [calls, calls, calls],
          );
          await new Promise((r) => setTimeout(r, 2000));
          assert.equal(hook.requests.length, calls, "no attempt after giving up");
          const [email] = await sql<{ status: string }[]>`
            SELECT status FROM notifications WHERE channel = 'email'`;
          assert.equal(email!.status, "sent", "the other channel is not held back");
          const metrics = await notifier.registry.prom.metrics();
          assert.match(
            metrics,
            /vigil_notifier_digests_total\{channel="webhook",status="failed"\} 1\n/,
          );
          assert.match(
            metrics,
            /vigil_notifier_notifications_total\{channel="webhook",status="retried"\} [1-9]/,
          );
        } finally {
          await notifier.close();
          await hook.close();
        }
      });
    });
  },
});
