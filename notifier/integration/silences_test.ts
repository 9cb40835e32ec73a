import assert from "node:assert/strict";
import { withRedis } from "@vigil/tools/testing/redis";
import { withPg } from "@vigil/tools/testing/pg";
import { silentLogger } from "@vigil/tools/testing/log";
import { migrate } from "@vigil/shared/migrate";
import { createSilence, expireSilence } from "@vigil/shared/silences";
import { startNotifier } from "../app.ts";
import { loadConfig } from "../config.ts";
import { makeAlert, publish, startFakeHook, testEnv, unsettled, waitFor } from "./_helpers.ts";

// Silences are created and expired through the web API, which stores them with
// shared/silences.ts; the notifier only reads the table. So the test writes them the same way.
Deno.test({
  name:
    "silences: a matching alert is stored but not sent, one grouped before its silence is dropped at the next flush, and once expired alerts go out",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withPg(async ({ sql, url }) => {
      await withRedis(async ({ redis, keys, prefix }) => {
        await migrate(sql);
        const silence = await createSilence(sql, {
          matchers: { entity: "db-1", severity: "CRITICAL" },
          duration: "1h",
          author: "ann",
          comment: "maintenance",
        });
        const hook = startFakeHook();
        const outbox = `./data/test-outbox-${crypto.randomUUID().slice(0, 8)}`;
        const config = loadConfig(testEnv({
          prefix,
          databaseUrl: url,
          extra: { WEBHOOK_URL: hook.url, OUTBOX_DIR: outbox, GROUP_WAIT: "3s" },
        }));
        const notifier = await startNotifier(config, { log: silentLogger() });
        const api = `http://127.0.0.1:${notifier.port}/api`;
        const sentIds = () =>
          hook.accepted().flatMap((r) =>
            (r.body as { alerts: { id: string }[] }).alerts.map((a) => a.id)
          );
        const pendingIsZero = async () => (await unsettled(redis, keys)) === 0;
        const dispositionOf = async (alertId: string) =>
          (await sql<{ disposition: string; silence_id: string | null }[]>`
            SELECT disposition, silence_id FROM notifier_alerts WHERE alert_id = ${alertId}`)[0];
        try {
          await notifier.ready;
          const muted = makeAlert({ entity: "db-1", severity: "CRITICAL" });
          const sent = makeAlert({ entity: "db-2", severity: "CRITICAL" });
          await publish(redis, keys, [muted, sent]);
          await waitFor(() => hook.accepted().length >= 1, "webhook digest");
          await waitFor(pendingIsZero, "both acknowledged");
          await new Promise((r) => setTimeout(r, 1500));
          assert.deepEqual(sentIds(), [sent.id]);
          const stored = await sql<{ alert_id: string; disposition: string; silence_id: string }[]>`
            SELECT alert_id, disposition, silence_id FROM notifier_alerts ORDER BY disposition`;
          assert.deepEqual(stored.map((r) => [r.alert_id, r.disposition]), [
            [sent.id, "grouped"],
            [muted.id, "silenced"],
          ]);
          assert.equal(stored[1]!.silence_id, silence.id);

          // "Was I told?" Each channel records its digest sent once its answer is back: a
          // moment after the fake webhook has the request, whenever the email channel's turn is.
          const told = async (alertId: string) =>
            ((await (await fetch(`${api}/notifications?alert_id=${alertId}`)).json())
              .notifications as { channel: string; status: string }[])
              .map((n) => [n.channel, n.status]).sort();
          await waitFor(
            async () => {
              const rows = await told(sent.id);
              return rows.length === 2 && rows.every(([, status]) => status === "sent");
            },
            "both channels' notifications recorded",
          );
          assert.deepEqual(await told(sent.id), [["email", "sent"], ["webhook", "sent"]]);
          assert.deepEqual(await told(muted.id), []);

          // A silence created after the alert was grouped drops it at the group's next flush.
          const late = makeAlert({ entity: "db-3", severity: "WARNING" });
          await publish(redis, keys, [late]);
          await waitFor(
            async () => (await dispositionOf(late.id))?.disposition === "grouped",
            "late alert grouped",
          );
          const lateSilence = await createSilence(sql, {
            matchers: { entity: "db-3" },
            duration: "1h",
            author: "bob",
          });
          await waitFor(
            async () => (await dispositionOf(late.id))?.disposition === "silenced",
            "late alert silenced at the flush",
          );
          assert.equal((await dispositionOf(late.id))?.silence_id, lateSilence.id);
          await waitFor(pendingIsZero, "late alert acknowledged");
          assert.ok(!sentIds().includes(late.id), "the late-silenced alert was not sent");

          // Expire it: the same alert now goes out. The notifier re-reads silences at most 1 s
          // old (no API call tells it any more), so the next alert comes after that.
          assert.ok((await expireSilence(sql, silence.id))?.expired_at);
          await new Promise((r) => setTimeout(r, 1100));
          const again = makeAlert({ entity: "db-1", severity: "CRITICAL" });
          await publish(redis, keys, [again]);
          await waitFor(() => sentIds().includes(again.id), "unsilenced alert sent");
        } finally {
          await notifier.close();
          await hook.close();
          await Deno.remove(outbox, { recursive: true }).catch(() => {});
        }
      });
    });
  },
});
