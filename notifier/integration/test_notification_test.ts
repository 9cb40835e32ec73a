/**
 * `POST /api/test-notification` on the real notifier: a test digest goes
 * through the real SMTP test server and a webhook at once, and each
 * channel's result comes back (the webhook answering 500 here).
 */
import assert from "node:assert/strict";
import { withRedis } from "@vigil/tools/testing/redis";
import { withPg } from "@vigil/tools/testing/pg";
import { silentLogger } from "@vigil/tools/testing/log";
import { testNotificationResultSchema } from "@vigil/shared/schemas/notifier_api";
import { startNotifier } from "../app.ts";
import { loadConfig } from "../config.ts";
import { startFakeHook, startSmtp, testEnv, waitFor } from "./_helpers.ts";

const TOKEN = "notifier-test-token-1";

Deno.test({
  name: "POST /api/test-notification sends over real SMTP and the webhook and reports each result",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withPg(({ sql, url }) =>
      withRedis(async ({ prefix }) => {
        const smtp = await startSmtp();
        const hook = startFakeHook();
        hook.respond = () => new Response("down for maintenance", { status: 500 });
        const notifier = await startNotifier(
          loadConfig(testEnv({
            prefix,
            databaseUrl: url,
            extra: {
              SMTP_HOST: "127.0.0.1",
              SMTP_PORT: String(smtp.port),
              WEBHOOK_URL: hook.url,
              VIGIL_API_TOKEN: TOKEN,
            },
          })),
          { log: silentLogger() },
        );
        try {
          await notifier.ready;
          const endpoint = `http://127.0.0.1:${notifier.port}/api/test-notification`;
          const refused = await fetch(endpoint, { method: "POST" });
          assert.equal(refused.status, 401);
          await refused.body?.cancel();
          const res = await fetch(endpoint, {
            method: "POST",
            headers: { authorization: `Bearer ${TOKEN}` },
          });
          assert.equal(res.status, 200);
          const body = testNotificationResultSchema.parse(await res.json());
          assert.equal(body.ok, false);
          const byChannel = Object.fromEntries(body.results.map((r) => [r.channel, r]));
          assert.equal(byChannel["email"]?.ok, true);
          assert.equal(byChannel["webhook"]?.ok, false);
          assert.equal(byChannel["webhook"]?.status, 500);
          assert.equal(byChannel["webhook"]?.retryable, true);
          assert.match(byChannel["webhook"]?.error ?? "", /HTTP 500: down for maintenance/);
          await waitFor(() => smtp.messages.length === 1, "the test email");
          const mail = smtp.messages[0]!;
          assert.match(mail.subject ?? "", /^\[Vigil\] Test notification — \d\d:\d\d UTC$/);
          assert.match(mail.text ?? "", /Nothing is wrong/);
          assert.equal(mail.headers.get("x-vigil-digest-id"), body.digest_id);
          assert.equal(hook.requests.length, 1, "tried once, not retried");
          // Not queued: the real notifications' figures are untouched.
          const [n] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM notifications`;
          assert.equal(n!.n, 0);
        } finally {
          await notifier.close();
          await hook.close();
          await smtp.close();
        }
      })
    ),
});
