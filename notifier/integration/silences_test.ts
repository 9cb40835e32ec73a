import assert from "node:assert/strict";
import { withRedis } from "@vigil/tools/testing/redis";
import { withPg } from "@vigil/tools/testing/pg";
import { silentLogger } from "@vigil/shared/log";
import { GROUPS } from "@vigil/shared/keys";
import { startNotifier } from "../app.ts";
import { loadConfig } from "../config.ts";
import { makeAlert, publish, startFakeHook, testEnv, waitFor } from "./_helpers.ts";

Deno.test({
  name:
    "notifier API silences: a matching alert is stored but not sent, a non-matching one is sent",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withPg(async ({ sql, url }) => {
      await withRedis(async ({ redis, keys, prefix }) => {
        const hook = startFakeHook();
        const outbox = `./data/test-outbox-${crypto.randomUUID().slice(0, 8)}`;
        const config = loadConfig(testEnv({
          prefix,
          databaseUrl: url,
          extra: { WEBHOOK_URL: hook.url, OUTBOX_DIR: outbox, VIGIL_API_TOKEN: "t0ken" },
        }));
        const notifier = await startNotifier(config, { log: silentLogger() });
        const api = `http://127.0.0.1:${notifier.port}/api`;
        try {
          await notifier.ready;
          const body = JSON.stringify({
            matchers: { entity: "db-1", severity: "CRITICAL" },
            duration: "1h",
            author: "ann",
            comment: "maintenance",
          });
          const denied = await fetch(`${api}/silences`, { method: "POST", body });
          assert.equal(denied.status, 401);
          await denied.body?.cancel();
          const bad = await fetch(`${api}/silences`, {
            method: "POST",
            body: JSON.stringify({ matchers: {}, duration: "1h", author: "ann" }),
            headers: { authorization: "Bearer t0ken" },
          });
          assert.equal(bad.status, 400);
          assert.match((await bad.json()).error, /Cannot create silence/);
          const res = await fetch(`${api}/silences`, {
            method: "POST",
            body,
            headers: { authorization: "Bearer t0ken", "content-type": "application/json" },
          });
          assert.equal(res.status, 201);
          const silence = await res.json();
          const list = await (await fetch(`${api}/silences?active=true`)).json();
          assert.deepEqual(list.silences.map((s: { id: string }) => s.id), [silence.id]);

          const muted = makeAlert({ entity: "db-1", severity: "CRITICAL" });
          const sent = makeAlert({ entity: "db-2", severity: "CRITICAL" });
          await publish(redis, keys, [muted, sent]);
          await waitFor(() => hook.accepted().length >= 1, "webhook digest");
          await waitFor(async () => {
            const p = await redis.xpending(keys.alerts(), GROUPS.notifier) as [number];
            return p[0] === 0;
          }, "both acknowledged");
          await new Promise((r) => setTimeout(r, 1500));
          const ids = hook.accepted().flatMap((r) =>
            (r.body as { alerts: { id: string }[] }).alerts.map((a) => a.id)
          );
          assert.deepEqual(ids, [sent.id]);
          const stored = await sql<{ alert_id: string; disposition: string; silence_id: string }[]>`
            SELECT alert_id, disposition, silence_id FROM notifier_alerts ORDER BY disposition`;
          assert.deepEqual(stored.map((r) => [r.alert_id, r.disposition]), [
            [sent.id, "grouped"],
            [muted.id, "silenced"],
          ]);
          assert.equal(stored[1]!.silence_id, silence.id);

          // "Was I told?"
          const told = await (await fetch(`${api}/notifications?alert_id=${sent.id}`)).json();
          assert.deepEqual(
            told.notifications.map((
              n: { channel: string; status: string },
            ) => [n.channel, n.status])
              .sort(),
            [["email", "sent"], ["webhook", "sent"]],
          );
          const notTold = await (await fetch(`${api}/notifications?alert_id=${muted.id}`)).json();
          assert.deepEqual(notTold.notifications, []);

          // Expire it: the same alert now goes out.
          const exp = await fetch(`${api}/silences/${silence.id}`, {
            method: "DELETE",
            headers: { authorization: "Bearer t0ken" },
          });
          assert.equal(exp.status, 200);
          assert.ok((await exp.json()).expired_at);
          const again = makeAlert({ entity: "db-1", severity: "CRITICAL" });
          await publish(redis, keys, [again]);
          await waitFor(
            () =>
              hook.accepted().some((r) =>
                (r.body as { alerts: { id: string }[] }).alerts.some((a) => a.id === again.id)
              ),
            "unsilenced alert sent",
          );
        } finally {
          await notifier.close();
          await hook.close();
          await Deno.remove(outbox, { recursive: true }).catch(() => {});
        }
      });
    });
  },
});
