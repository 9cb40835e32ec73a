/**
 * A notifier standing by (another one holds the instance lock) takes nothing
 * in: its gauges must not report the running one's alerts too. The dashboard
 * sums `vigil_notifier_pending_alerts` and `vigil_notifier_groups` over the
 * instances, so a standby that reported the shared table doubled them.
 */
import assert from "node:assert/strict";
import { withRedis } from "@vigil/tools/testing/redis";
import { withPg } from "@vigil/tools/testing/pg";
import { createLogger } from "@vigil/shared/log";
import { silentLogger } from "@vigil/tools/testing/log";
import { migrate } from "@vigil/shared/migrate";
import { startNotifier } from "../app.ts";
import { loadConfig } from "../config.ts";
import { makeAlert, publish, testEnv, waitFor } from "./_helpers.ts";

/** The value of an unlabelled sample of `name` in the service's /metrics. */
async function sample(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  assert.ok(line, `${name} is exported`);
  return Number(line.slice(name.length + 1));
}

Deno.test({
  name: "a standby notifier reports no pending alerts and no groups of the running one",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withPg(async ({ sql, url }) => {
      await withRedis(async ({ redis, keys, prefix }) => {
        await migrate(sql);
        const dir = await Deno.makeTempDir({ prefix: "vigil-standby-" });
        // Alerts wait for their group's digest for an hour: pending all along.
        const config = loadConfig(testEnv({
          prefix,
          databaseUrl: url,
          extra: { OUTBOX_DIR: `${dir}/outbox`, GROUP_WAIT: "1h" },
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
          await publish(redis, keys, [makeAlert(), makeAlert({ severity: "CRITICAL" })]);
          await waitFor(
            async () => (await sample(first.port, "vigil_notifier_pending_alerts")) === 2,
            "the running notifier holds both alerts",
          );
          second = await startNotifier(config, { log: secondLog });
          await waitFor(
            () => lines.some((l) => l.msg?.toString().startsWith("another notifier is running")),
            "the second notifier stands by",
          );
          assert.equal(await sample(first.port, "vigil_notifier_groups"), 2);
          assert.equal(await sample(second.port, "vigil_notifier_pending_alerts"), 0);
          assert.equal(await sample(second.port, "vigil_notifier_groups"), 0);
        } finally {
          await first.close();
          await second?.close();
          await Deno.remove(dir, { recursive: true });
        }
      });
    });
  },
});
