/**
 * kill -9 between "a channel accepted the digest" and "every channel
 * accepted it", then restart: no duplicate to the channel that accepted, and
 * the other channel still gets it (its notification stays pending in
 * PostgreSQL, the delivery outbox; the stream entries were acknowledged as
 * soon as the digest was committed there).
 *
 * Real processes: the notifier runs as `deno run notifier/main.ts` with the
 * production permission flags and is killed with SIGKILL. Discord (fake)
 * accepts at once; the generic webhook (fake) answers 503. The test waits
 * until PostgreSQL records Discord's digest as sent and the webhook's as
 * still pending, kills
 * the process, brings the webhook back and restarts the notifier.
 */
import assert from "node:assert/strict";
import { withRedis } from "@vigil/tools/testing/redis";
import { withPg } from "@vigil/tools/testing/pg";
import { GROUPS } from "@vigil/shared/keys";
import { makeAlert, publish, startFakeHook, testEnv, waitFor } from "./_helpers.ts";

const FLAGS = [
  "--allow-net",
  "--allow-env",
  "--allow-read=.vigil,./data,shared/migrations",
  "--allow-write=./data",
  "--allow-sys=hostname,osRelease",
];

function spawnNotifier(env: Record<string, string>): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...FLAGS, "notifier/main.ts"],
    cwd: new URL("../../", import.meta.url).pathname,
    env,
    clearEnv: true,
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

Deno.test({
  name: "notifier killed with SIGKILL after Discord accepted does not resend to Discord on restart",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withPg(async ({ sql, url }) => {
      await withRedis(async ({ redis, keys, prefix }) => {
        const discord = startFakeHook();
        discord.respond = () => Response.json({ id: "1" });
        const hook = startFakeHook();
        let hookUp = false;
        hook.respond = () =>
          hookUp ? new Response(null, { status: 204 }) : new Response("down", { status: 503 });
        const outbox = `./data/test-outbox-${crypto.randomUUID().slice(0, 8)}`;
        const env = testEnv({
          prefix,
          databaseUrl: url,
          extra: {
            DISCORD_WEBHOOK_URL: discord.url,
            WEBHOOK_URL: hook.url,
            OUTBOX_DIR: outbox,
            GROUP_WAIT: "300ms",
            PATH: Deno.env.get("PATH") ?? "",
            HOME: Deno.env.get("HOME") ?? "/root",
            DENO_DIR: Deno.env.get("DENO_DIR") ?? "",
          },
        });
        let child = spawnNotifier(env);
        try {
          const alerts = Array.from({ length: 5 }, () => makeAlert());
          await publish(redis, keys, alerts);
          await waitFor(
            async () => {
              const rows = await sql<{ status: string }[]>`
              SELECT status FROM notifications WHERE channel = 'discord'`.catch(() => []);
              return rows.length === 1 && rows[0]!.status === "sent";
            },
            "discord digest recorded as sent",
            40_000,
          );
          await waitFor(() => hook.requests.length >= 1, "webhook attempted");
          const pendingBefore = (await redis.xpending(keys.alerts(), GROUPS.notifier)) as [number];
          assert.equal(pendingBefore[0], 0, "acknowledged once the digest was committed");
          const [hookRow] = await sql<{ status: string }[]>`
            SELECT status FROM notifications WHERE channel = 'webhook'`;
          assert.equal(hookRow?.status, "pending", "the webhook's delivery waits in PostgreSQL");
          child.kill("SIGKILL");
          const status = await child.status;
          assert.equal(status.signal, "SIGKILL");
          await child.stderr.cancel().catch(() => {});
          assert.equal(discord.accepted().length, 1);

          hookUp = true;
          child = spawnNotifier(env);
          await waitFor(
            () => hook.accepted().length >= 1,
            "webhook accepted after restart",
            40_000,
          );
          await new Promise((r) => setTimeout(r, 1500));
          assert.equal(discord.accepted().length, 1, "no duplicate digest to Discord");
          assert.equal(hook.accepted().length, 1, "webhook got the digest once");
          const digestId = (hook.accepted()[0]!.body as { digest_id: string }).digest_id;
          assert.equal(hook.accepted()[0]!.headers.get("idempotency-key"), digestId);
          // Each channel records its delivery once done (the webhook's a moment after the fake
          // hook has the request; the email's whenever its own loop got to it).
          const notifications = () =>
            sql<{ channel: string; status: string }[]>`
            SELECT channel, status FROM notifications ORDER BY channel`;
          await waitFor(
            async () => {
              const rows = await notifications();
              return rows.length === 3 && rows.every((r) => r.status !== "pending");
            },
            "every channel's delivery recorded",
          );
          const emails: string[] = [];
          for await (const e of Deno.readDir(outbox)) emails.push(e.name);
          assert.deepEqual(emails, [`${digestId}.eml`], "email outbox has the digest once");
          const rows = await notifications();
          assert.deepEqual(rows.map((r) => [r.channel, r.status]), [
            ["discord", "sent"],
            ["email", "sent"],
            ["webhook", "sent"],
          ]);
        } finally {
          try {
            child.kill("SIGTERM");
          } catch { /* already gone */ }
          await child.status;
          await child.stderr.cancel().catch(() => {});
          await discord.close();
          await hook.close();
          await Deno.remove(outbox, { recursive: true }).catch(() => {});
        }
      });
    });
  },
});
