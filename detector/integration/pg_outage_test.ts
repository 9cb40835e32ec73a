/**
 * PostgreSQL unreachable for 20 s mid-stream (a TCP proxy between the
 * detector and the server is cut, then restored): the detector retries,
 * acknowledges nothing it has not stored, and catches up afterwards.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { withRedis } from "@vigil/tools/testing/redis";
import { withPg } from "@vigil/tools/testing/pg";
import { waitFor } from "@vigil/tools/testing/kafka";
import { migrate } from "@vigil/shared/migrate";
import { GROUPS } from "@vigil/shared/keys";
import { appendEvents, pendingCount, readAlerts, readRows, startDetector } from "./_harness.ts";
import { startTcpProxy } from "@vigil/tools/testing/tcp_proxy";

Deno.test(
  "detector survives PostgreSQL being unreachable for 20 s without acknowledging unstored entries",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    await withPg(({ sql: direct, url }) =>
      withRedis(async ({ redis, keys }) => {
        await migrate(direct);
        const target = new URL(url);
        const proxy = startTcpProxy({
          hostname: target.hostname,
          port: Number(target.port || 5432),
        });
        const proxied = new URL(url);
        proxied.host = `127.0.0.1:${proxy.port}`;
        const sql = postgres(proxied.href, { max: 2, onnotice: () => {}, connect_timeout: 2 });
        const d = await startDetector({ sql, keys, redis }, { settings: { ioTimeoutMs: 3000 } });
        const base = Date.now() - 5 * 60_000;
        const at = (ms: number) => new Date(base + ms).toISOString();
        const spike = (service: string, from: number) =>
          Array.from(
            { length: 20 },
            (_, i) => ({ timestamp: at(from + i * 100), service, level: "ERROR", message: "boom" }),
          );
        try {
          await appendEvents(redis, keys, "logs", spike("before", 0));
          await waitFor(async () => (await readRows(direct)).length === 1, {
            what: "first anomaly",
          });

          proxy.cut();
          const during = await appendEvents(redis, keys, "logs", spike("during", 10_000));
          await appendEvents(redis, keys, "transactions", [
            {
              timestamp: at(10_000),
              transaction_id: "big",
              user_id: "whale",
              amount: 50_000,
              currency: "EUR",
              status: "approved",
            },
          ]);
          // Stay down 20 s; meanwhile the spike's 20th error, whose anomaly cannot be stored, is
          // delivered but never acknowledged. (A blocking read may return the first entries of
          // the spike alone; with no anomaly among them there is nothing to store, so they may be.)
          const trigger = during.at(-1)!;
          const triggerPending = async () =>
            ((await redis.xpending(keys.events("logs"), GROUPS.detector, "-", "+", 1000)) as [
              string,
            ][]).some(([id]) => id === trigger);
          const downUntil = Date.now() + 20_000;
          await waitFor(triggerPending, { what: "delivery of the spike" });
          while (Date.now() < downUntil) {
            assert.ok(await triggerPending(), "the spike not acknowledged while PG is down");
            assert.equal((await readRows(direct)).length, 1, "nothing stored while PG is down");
            assert.equal(
              (await readAlerts(redis, keys)).length,
              1,
              "nothing published before it is stored",
            );
            await new Promise((r) => setTimeout(r, 1000));
          }
          proxy.restore();
          await waitFor(async () => (await readRows(direct)).length === 3, {
            timeoutMs: 30_000,
            what: "catch up",
          });
          await waitFor(async () =>
            (await pendingCount(redis, keys, "logs")) === 0 &&
            (await pendingCount(redis, keys, "transactions")) === 0, {
            what: "acknowledged after storing",
          });
          const rows = await readRows(direct);
          assert.deepEqual(rows.map((r) => [r.rule, r.entity]).sort(), [
            ["amount_high", "whale"],
            ["error_spike", "before"],
            ["error_spike", "during"],
          ]);
          const alerts = await readAlerts(redis, keys);
          assert.equal(alerts.filter((a) => a.status === "firing").length, 3);
          const retries = await d.registry.render();
          assert.match(retries, /vigil_detector_retries_total\{op="store anomalies"\} [1-9]/);
        } finally {
          await d.stop();
          await sql.end({ timeout: 1 }).catch(() => {});
          await proxy.close();
        }
      })
    );
  },
);
