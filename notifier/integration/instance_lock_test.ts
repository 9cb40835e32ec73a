/**
 * One notifier at a time, against the real PostgreSQL and Redis: a second
 * notifier started beside a running one (the same consumer name, as a
 * newcomer's `deno task notifier` beside `up` has) stands by, takes nothing
 * in and sends nothing, and takes over when the first stops. Before, both
 * took alerts in: the second one's resolution never reached the first one's
 * digests ("still firing" for ever), and both sent every notification.
 */
import assert from "node:assert/strict";
import { withRedis } from "@vigil/tools/testing/redis";
import { withPg } from "@vigil/tools/testing/pg";
import { createLogger } from "@vigil/shared/log";
import { silentLogger } from "@vigil/tools/testing/log";
import { migrate } from "@vigil/shared/migrate";
import { startNotifier } from "../app.ts";
import { loadConfig } from "../config.ts";
import { makeAlert, publish, startFakeHook, testEnv, waitFor } from "./_helpers.ts";

type Sent = { alerts: { id: string; status: string }[] };

Deno.test({
  name: "a second notifier stands by until the first stops, then takes over with its state",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withPg(async ({ sql, url }) => {
      await withRedis(async ({ redis, keys, prefix }) => {
        await migrate(sql);
        const hook = startFakeHook();
        const dir = await Deno.makeTempDir({ prefix: "vigil-lock-" });
        const config = loadConfig(testEnv({
          prefix,
          databaseUrl: url,
          extra: { WEBHOOK_URL: hook.url, OUTBOX_DIR: `${dir}/outbox`, GROUP_WAIT: "300ms" },
        }));
        const lines: Record<string, unknown>[] = [];
        const secondLog = createLogger({
          service: "notifier",
          write: (l) => lines.push(JSON.parse(l)),
        });
        const first = await startNotifier(config, { log: silentLogger() });
        let second: Awaited<ReturnType<typeof startNotifier>> | undefined;
        try {
          await first.ready;
          second = await startNotifier(config, { log: secondLog });
          const health = async () =>
            (await (await fetch(`http://127.0.0.1:${second!.port}/health`)).json()) as {
              ok: boolean;
              details: { intake?: string };
            };
          await waitFor(
            () => lines.some((l) => l.msg?.toString().startsWith("another notifier is running")),
            "the second notifier says it stands by",
          );
          const h = await health();
          assert.equal(h.ok, true, "a standby is healthy");
          assert.match(String(h.details.intake), /^standby/);

          // Fired and resolved while both run: the first takes both in, the digest says so.
          const alert = makeAlert({ severity: "CRITICAL" });
          await publish(redis, keys, [alert]);
          await waitFor(() => hook.accepted().length >= 1, "the first digest");
          await publish(redis, keys, [{
            ...alert,
            status: "resolved",
            resolved_at: new Date().toISOString(),
          }]);
          await waitFor(() => hook.accepted().length >= 2, "the resolution's digest", 30_000);
          const statuses = hook.accepted().map((r) =>
            (r.body as Sent).alerts.find((a) => a.id === alert.id)?.status
          );
          assert.deepEqual(statuses, ["firing", "resolved"]);
          const [taken] = await sql<{ n: number }[]>`
            SELECT count(*)::int AS n FROM notifier_alerts`;
          assert.equal(taken?.n, 2);

          // The first stops: the second takes over, from the state in PostgreSQL.
          await first.close();
          await waitFor(
            () => lines.some((l) => l.msg === "the other notifier stopped: taking over"),
            "take-over",
            15_000,
          );
          await second.ready;
          const next = makeAlert({ severity: "WARNING" });
          await publish(redis, keys, [next]);
          await waitFor(
            () =>
              hook.accepted().some((r) => (r.body as Sent).alerts.some((a) => a.id === next.id)),
            "the second notifier's digest",
            30_000,
          );
          const resent = hook.accepted().filter((r) =>
            (r.body as Sent).alerts.some((a) => a.id === alert.id)
          );
          assert.equal(resent.length, 2, "the resolved alert is not sent again");
          assert.match(String((await health()).details.intake), /^(ok|starting)$/);
        } finally {
          await first.close();
          await second?.close();
          await hook.close();
          await Deno.remove(dir, { recursive: true });
        }
      });
    });
  },
});
