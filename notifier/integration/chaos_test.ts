/**
 * Chaos (issue 13): the real notifier process outlives its Redis stopped for
 * 30 s and its PostgreSQL unreachable for 30 s while alerts keep coming;
 * afterwards every alert has been announced exactly once on the webhook and
 * nothing is left pending. Private redis-server (append-only file) and a TCP
 * proxy in front of PostgreSQL, so shared test servers are not disturbed.
 * Part of `deno task chaos`.
 */
import assert from "node:assert/strict";
import { createKeys } from "@vigil/shared/keys";
import { createRedis } from "@vigil/shared/redis";
import { withPg } from "@vigil/tools/testing/pg";
import { startRedisServer } from "@vigil/tools/testing/redis_server";
import { spawnService } from "@vigil/tools/testing/services";
import { startTcpProxy } from "@vigil/tools/testing/tcp_proxy";
import { makeAlert, publish, startFakeHook, testEnv, waitFor } from "./_helpers.ts";

Deno.test({
  name:
    "chaos: the notifier outlives Redis stopped 30 s and PostgreSQL down 30 s, every alert announced once",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withPg(async ({ sql, url }) => {
      const server = await startRedisServer();
      const redis = createRedis(server.url, {});
      const keys = createKeys("chaosn:");
      const target = new URL(url);
      const proxy = startTcpProxy({ hostname: target.hostname, port: Number(target.port || 5432) });
      const proxied = new URL(url);
      proxied.host = `127.0.0.1:${proxy.port}`;
      const hook = startFakeHook();
      const outbox = `./data/test-outbox-${crypto.randomUUID().slice(0, 8)}`;
      const notifier = await spawnService("notifier", {
        ...testEnv({
          prefix: "chaosn:",
          databaseUrl: proxied.href,
          extra: { WEBHOOK_URL: hook.url, OUTBOX_DIR: outbox, LOG_LEVEL: "info" },
        }),
        REDIS_URL: server.url,
      });
      const announced = () => {
        const ids: string[] = [];
        for (const r of hook.accepted()) {
          for (const a of (r.body as { alerts: { id: string; is_new: boolean }[] }).alerts) {
            if (a.is_new) ids.push(a.id);
          }
        }
        return ids;
      };
      const sent: string[] = [];
      const wave = async (n: number) => {
        const alerts = Array.from({ length: n }, () => makeAlert());
        await publish(redis, keys, alerts);
        sent.push(...alerts.map((a) => a.id));
      };
      try {
        await notifier.opsPort(60_000);
        await wave(5);
        await waitFor(() => announced().length >= 5, "wave 1 announced", 30_000);

        await server.stop(); // Redis down 30 s
        await new Promise((r) => setTimeout(r, 30_000));
        await server.start();
        await wave(5);
        await waitFor(() => announced().length >= 10, "wave 2 announced", 60_000);

        proxy.cut(); // PostgreSQL unreachable 30 s, alerts arriving meanwhile
        await wave(5);
        await new Promise((r) => setTimeout(r, 30_000));
        proxy.restore();
        await waitFor(() => announced().length >= 15, "wave 3 announced", 60_000).catch((e) => {
          throw new Error(`${e.message}\n${notifier.tail(40)}`);
        });

        await new Promise((r) => setTimeout(r, 2000)); // room for a duplicate to show
        assert.deepEqual(announced().sort(), [...sent].sort(), "each alert announced once");
        const p = await redis.xpending(keys.alerts(), "notifier") as [number];
        assert.equal(p[0], 0, "nothing left pending on the stream");
        await waitFor(
          async () => {
            const [left] = await sql<{ n: number }[]>`
            SELECT count(*)::int AS n FROM notifications WHERE status = 'pending'`;
            return left!.n === 0;
          },
          "every notification delivered (email too)",
          30_000,
        );
        const exited = await Promise.race([
          notifier.status.then(() => true),
          new Promise((r) => setTimeout(() => r(false), 100)),
        ]);
        assert.equal(exited, false, "still running");
      } finally {
        await notifier.stop();
        redis.disconnect();
        await server.close();
        await proxy.close();
        await hook.close();
        await Deno.remove(outbox, { recursive: true }).catch(() => {});
      }
    }),
});
