/**
 * A digest to several recipients, one of them greylisted by a real SMTP server: retried for that
 * one only, across a notifier restart (the answers are in PostgreSQL).
 *
 * @module
 */
import assert from "node:assert/strict";
import { withRedis } from "@vigil/tools/testing/redis";
import { withPg } from "@vigil/tools/testing/pg";
import { silentLogger } from "@vigil/tools/testing/log";
import { startNotifier } from "../app.ts";
import { loadConfig } from "../config.ts";
import { makeAlert, publish, startSmtp, testEnv, waitFor } from "./_helpers.ts";

interface Row {
  status: string;
  attempts: number;
  error: string | null;
  recipients_done: Record<string, string>;
}

Deno.test({
  name:
    "startNotifier() sends a digest again only to the recipient the SMTP server greylisted, after a restart",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withPg(async ({ sql, url }) => {
      await withRedis(async ({ redis, keys, prefix }) => {
        let greylisting = true;
        const smtp = await startSmtp(0, {
          refuse: (r) =>
            r === "gone@example.com"
              ? [550, "5.1.1 No such user"]
              : r === "grey@example.com" && greylisting
              ? [451, "4.7.1 Greylisted, try again later"]
              : undefined,
        });
        const config = loadConfig(testEnv({
          prefix,
          databaseUrl: url,
          extra: {
            SMTP_HOST: "127.0.0.1",
            SMTP_PORT: String(smtp.port),
            EMAIL_TO: "ops@example.com,grey@example.com,gone@example.com",
            // No retry within the test's first notifier: the second one makes it.
            RETRY_BASE: "1m",
            RETRY_CAP: "2m",
          },
        }));
        const row = async () =>
          (await sql<Row[]>`SELECT status, attempts, error, recipients_done
            FROM notifications WHERE channel = 'email'`)[0];
        try {
          let notifier = await startNotifier(config, { log: silentLogger() });
          try {
            await notifier.ready;
            await publish(redis, keys, [makeAlert({ severity: "CRITICAL" })]);
            const first = await waitFor(async () => {
              const r = await row();
              return r && r.attempts >= 1 ? r : undefined;
            }, "the first attempt");
            // Before: `sent`, with grey@ in a warning; it never got this digest.
            assert.equal(first.status, "pending", first.error ?? "");
            assert.match(
              first.error ?? "",
              /refused 1 of 3 recipients for now \(retried\): grey@example\.com \(451 4\.7\.1 Greylisted/,
            );
            assert.deepEqual(first.recipients_done, {
              "ops@example.com": "accepted",
              "gone@example.com": "550 5.1.1 No such user",
            });
            assert.deepEqual(smtp.envelopes, [["ops@example.com"]]);
          } finally {
            await notifier.close();
          }

          greylisting = false;
          // The retry's time has come.
          await sql`UPDATE notifications SET next_attempt_at = now() WHERE channel = 'email'`;
          notifier = await startNotifier(config, { log: silentLogger() });
          try {
            await notifier.ready;
            const done = await waitFor(async () => {
              const r = await row();
              return r && r.status !== "pending" ? r : undefined;
            }, "the digest sent");
            assert.deepEqual([done.status, done.attempts], ["sent", 2]);
            assert.match(done.error ?? "", /refused 1 of 3 recipients: gone@example\.com \(550 /);
            assert.deepEqual(done.recipients_done, {
              "ops@example.com": "accepted",
              "grey@example.com": "accepted",
              "gone@example.com": "550 5.1.1 No such user",
            });
            // One copy each, the same email (Message-ID and To:) for both.
            assert.deepEqual(smtp.envelopes, [["ops@example.com"], ["grey@example.com"]]);
            const [a, b] = smtp.messages;
            assert.equal(a!.messageId, b!.messageId);
            assert.equal(a!.headers.get("x-vigil-digest-id"), b!.headers.get("x-vigil-digest-id"));
            for (const m of smtp.messages) {
              assert.equal(m.to && !Array.isArray(m.to) ? m.to.value.length : 0, 3);
            }
          } finally {
            await notifier.close();
          }
        } finally {
          await smtp.close();
        }
      });
    }),
});
