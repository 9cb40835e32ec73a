import assert from "node:assert/strict";
import { withRedis } from "@vigil/tools/testing/redis";
import { type Sql, withPg } from "@vigil/tools/testing/pg";
import { silentLogger } from "@vigil/tools/testing/log";
import type { Keys } from "@vigil/shared/keys";
import type { Redis } from "@vigil/shared/redis";
import { startNotifier } from "../app.ts";
import { loadConfig } from "../config.ts";
import type { DiscordMessage } from "../channels/discord.ts";
import {
  type FakeHook,
  makeAlert,
  publish,
  startFakeHook,
  testEnv,
  unsettled,
  waitFor,
} from "./_helpers.ts";

interface Ctx {
  sql: Sql;
  redis: Redis;
  keys: Keys;
  discord: FakeHook;
}

/** Run `fn` with a notifier whose only extra channel is a fake Discord. */
async function withDiscordNotifier(fn: (ctx: Ctx) => Promise<void>): Promise<void> {
  await withPg(async ({ sql, url }) => {
    await withRedis(async ({ redis, keys, prefix }) => {
      const discord = startFakeHook("/api/webhooks/1/secret-token");
      const outbox = `./data/test-outbox-${crypto.randomUUID().slice(0, 8)}`;
      const config = loadConfig(testEnv({
        prefix,
        databaseUrl: url,
        extra: { DISCORD_WEBHOOK_URL: discord.url, OUTBOX_DIR: outbox },
      }));
      const notifier = await startNotifier(config, { log: silentLogger() });
      try {
        await notifier.ready;
        await fn({ sql, redis, keys, discord });
      } finally {
        await notifier.close();
        await discord.close();
        await Deno.remove(outbox, { recursive: true }).catch(() => {});
      }
    });
  });
}

async function discordRow(sql: Sql) {
  const rows = await sql<{ status: string; attempts: number; error: string | null }[]>`
    SELECT status, attempts, error FROM notifications WHERE channel = 'discord'`;
  return rows;
}

const OPTS = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  ...OPTS,
  name: "discord channel splits a large digest into several messages within the limits",
  fn: () =>
    withDiscordNotifier(async ({ sql, redis, keys, discord }) => {
      let failedOnce = false;
      discord.respond = ({ body, n }) => {
        const msg = body as DiscordMessage;
        const chars = msg.embeds.reduce(
          (s, e) =>
            s + (e.title?.length ?? 0) + (e.description?.length ?? 0) +
            (e.footer?.text.length ?? 0) +
            (e.fields ?? []).reduce((t, f) => t + f.name.length + f.value.length, 0),
          0,
        );
        const tooBig = msg.embeds.length > 10 || chars > 6000 ||
          msg.embeds.some((e) => (e.fields?.length ?? 0) > 25);
        if (tooBig) return Response.json({ message: "Invalid Form Body" }, { status: 400 });
        // The second message fails once: the retry must resume with it, not resend the first.
        if (n === 1 && !failedOnce) {
          failedOnce = true;
          return new Response("bad gateway", { status: 502 });
        }
        return Response.json({ id: String(n) });
      };
      const alerts = Array.from({ length: 120 }, () =>
        makeAlert({ message: "disk almost full ".repeat(8) }));
      await publish(redis, keys, alerts);
      await waitFor(async () =>
        (await discordRow(sql))[0]?.status === "sent", "discord sent");
      const accepted = discord.accepted().map((r) => r.body as DiscordMessage);
      assert.ok(accepted.length >= 3, `split into ${accepted.length} messages`);
      const names = accepted.flatMap((m) => m.embeds.flatMap((e) => e.fields ?? []))
        .map((f) => f.value);
      assert.equal(names.length, 120, "every alert once, none dropped or duplicated");
      for (const a of alerts) {
        assert.equal(names.filter((v) => v.includes(`/alerts/${a.id})`)).length, 1);
      }
      assert.equal(discord.requests.filter((r) => r.status === 400).length, 0);
      assert.match(accepted[0]!.content, new RegExp(`part 1/${accepted.length}`));
      assert.equal(
        new URL(discord.requests[0]!.path, "http://x").pathname,
        "/api/webhooks/1/secret-token",
      );
      await waitFor(async () => (await unsettled(redis, keys)) === 0, "acknowledged");
    }),
});

Deno.test({
  ...OPTS,
  name: "a part Discord accepted is not sent again when PostgreSQL refuses to record it once",
  fn: () =>
    withDiscordNotifier(async ({ sql, redis, keys, discord }) => {
      // The first record of a sent part fails (a sequence is not rolled back with it).
      await sql.unsafe(`
        CREATE SEQUENCE parts_refusals;
        CREATE FUNCTION refuse_first_part() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.parts_sent > OLD.parts_sent AND nextval('parts_refusals') = 1 THEN
            RAISE EXCEPTION 'injected: cannot record the part';
          END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_first_part BEFORE UPDATE ON notifications
          FOR EACH ROW EXECUTE FUNCTION refuse_first_part();`);
      discord.respond = ({ n }) => Response.json({ id: String(n) });
      const alerts = Array.from({ length: 120 }, () =>
        makeAlert({ message: "disk almost full ".repeat(8) }));
      await publish(redis, keys, alerts);
      await waitFor(async () =>
        (await discordRow(sql))[0]?.status === "sent", "discord sent");
      const [seq] = await sql<{ refusals: string }[]>`
        SELECT last_value::text AS refusals FROM parts_refusals`;
      assert.ok(Number(seq!.refusals) >= 2, "the first record was refused, then taken");
      const accepted = discord.accepted().map((r) => r.body as DiscordMessage);
      assert.ok(accepted.length >= 3, `split into ${accepted.length} messages`);
      const values = accepted.flatMap((m) => m.embeds.flatMap((e) => e.fields ?? []))
        .map((f) => f.value);
      assert.equal(values.length, 120, "every alert once: no part sent twice");
      assert.match(accepted[1]!.content, new RegExp(`part 2/${accepted.length}`));
    }),
});

Deno.test({
  ...OPTS,
  name: "discord channel honours retry_after of a 429",
  fn: () =>
    withDiscordNotifier(async ({ sql, redis, keys, discord }) => {
      discord.respond = ({ n }) =>
        n === 0
          ? Response.json({
            message: "You are being rate limited.",
            retry_after: 1.5,
            global: false,
          }, {
            status: 429,
          })
          : Response.json({ id: "1" });
      await publish(redis, keys, [makeAlert()]);
      await waitFor(
        async () => (await discordRow(sql))[0]?.status === "sent",
        "discord sent",
        30_000,
      );
      const [first, second] = discord.requests;
      assert.equal(first!.status, 429);
      assert.ok(second!.at - first!.at >= 1500, `waited ${second!.at - first!.at} ms (>= 1500)`);
      assert.equal(discord.accepted().length, 1);
      assert.equal((await discordRow(sql))[0]!.attempts, 2);
    }),
});

Deno.test({
  ...OPTS,
  name: "discord channel retries 5xx and records every attempt",
  fn: () =>
    withDiscordNotifier(async ({ sql, redis, keys, discord }) => {
      discord.respond = ({ n }) =>
        n < 3 ? new Response("oops", { status: n === 0 ? 500 : 503 }) : Response.json({ id: "1" });
      await publish(redis, keys, [makeAlert()]);
      await waitFor(async () => (await discordRow(sql))[0]?.status === "sent", "discord sent");
      assert.equal(discord.accepted().length, 1);
      const row = (await discordRow(sql))[0]!;
      assert.equal(row.attempts, 4);
      const attempts = await sql<{ ok: boolean; status_code: number | null }[]>`
        SELECT ok, status_code FROM notification_attempts WHERE channel = 'discord' ORDER BY attempt`;
      assert.deepEqual(attempts.map((a) => [a.ok, a.status_code]), [
        [false, 500],
        [false, 503],
        [false, 503],
        [true, null],
      ]);
      await waitFor(async () => (await unsettled(redis, keys)) === 0, "acknowledged");
    }),
});

Deno.test({
  ...OPTS,
  name: "discord channel records a 400 as failed and does not retry it",
  fn: () =>
    withDiscordNotifier(async ({ sql, redis, keys, discord }) => {
      discord.respond = () => Response.json({ message: "Invalid Webhook Token" }, { status: 400 });
      await publish(redis, keys, [makeAlert()]);
      await waitFor(async () => (await discordRow(sql))[0]?.status === "failed", "discord failed");
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(discord.requests.length, 1, "not retried");
      const row = (await discordRow(sql))[0]!;
      assert.equal(row.attempts, 1);
      assert.match(row.error ?? "", /HTTP 400/);
      assert.doesNotMatch(row.error ?? "", /secret-token/, "no webhook URL in errors");
      // Final on every channel (email went to the outbox): the entry is acknowledged.
      await waitFor(async () => (await unsettled(redis, keys)) === 0, "acknowledged");
    }),
});

Deno.test({
  ...OPTS,
  name:
    "an alert PostgreSQL refuses (NUL in its entity) is dead-lettered alone; the others are delivered",
  fn: () =>
    withDiscordNotifier(async ({ sql, redis, keys, discord }) => {
      const good = Array.from({ length: 4 }, () => makeAlert());
      const bad = makeAlert({ entity: "db\u00001" });
      await publish(redis, keys, [good[0]!, good[1]!, bad, good[2]!, good[3]!]);
      await waitFor(async () => (await unsettled(redis, keys)) === 0, "everything settled");
      const dlq = await redis.xrange(keys.dlq(), "-", "+");
      assert.equal(dlq.length, 1, "only the refused alert is dead-lettered");
      const fields = Object.fromEntries(
        dlq[0]![1].flatMap((v, i, a) => (i % 2 === 0 ? [[v, a[i + 1]]] : [])),
      );
      assert.equal(fields.source, "notifier");
      assert.match(fields.reason!, /processing failed \d+ times: .*(0x00|\\u0000|Unicode)/i);
      assert.equal(JSON.parse(fields.raw!).id, bad.id);
      const taken = await sql<{ alert_id: string }[]>`SELECT alert_id FROM notifier_alerts`;
      assert.deepEqual(taken.map((r) => r.alert_id).sort(), good.map((a) => a.id).sort());
      await waitFor(
        async () => {
          const rows = await discordRow(sql);
          return rows.length > 0 && rows.every((r) => r.status === "sent");
        },
        "the others are delivered",
      );
      assert.ok(discord.accepted().length >= 1);
    }),
});
