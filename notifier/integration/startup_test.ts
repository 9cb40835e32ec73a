/**
 * Start-up while PostgreSQL is unreachable: the notifier waits (migrations
 * retried on shared/retry.ts) and starts once PostgreSQL answers, instead of
 * exiting. A TCP proxy in front of the test PostgreSQL stands in for the outage.
 */
import { assertMethodAnswers } from "@vigil/tools/testing/http";
import assert from "node:assert/strict";
import { silentLogger } from "@vigil/tools/testing/log";
import { withPg } from "@vigil/tools/testing/pg";
import { withRedis } from "@vigil/tools/testing/redis";
import { startUrlProxy } from "@vigil/tools/testing/tcp_proxy";
import { startNotifier } from "../app.ts";
import { loadConfig } from "../config.ts";
import { testEnv } from "./_helpers.ts";

Deno.test({
  name: "startNotifier() waits for an unreachable PostgreSQL, then migrates and starts",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withPg(({ sql, url }) =>
      withRedis(async ({ prefix }) => {
        const proxy = startUrlProxy(url);
        proxy.cut();
        try {
          const starting = startNotifier(
            loadConfig(testEnv({ prefix, databaseUrl: proxy.url })),
            { log: silentLogger() },
          );
          let settled = false;
          starting.finally(() => settled = true).catch(() => {});
          await new Promise((r) => setTimeout(r, 1500));
          assert.equal(settled, false, "still waiting while PostgreSQL is unreachable");
          const [before] = await sql<{ n: number }[]>`
            SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'notifications'`;
          assert.equal(before!.n, 0, "nothing migrated yet");
          proxy.restore();
          const notifier = await starting;
          try {
            await notifier.ready;
            const [after] = await sql<{ n: number }[]>`
              SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'notifications'`;
            assert.equal(after!.n, 1, "migrated once PostgreSQL answered");
          } finally {
            await notifier.close();
          }
        } finally {
          await proxy.close();
        }
      })
    ),
});

Deno.test({
  name: "the notifier answers a wrong method on its routes 405 with Allow, an unknown path 404",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withPg(({ url }) =>
      withRedis(async ({ prefix }) => {
        const notifier = await startNotifier(loadConfig(testEnv({ prefix, databaseUrl: url })), {
          log: silentLogger(),
        });
        try {
          const base = `http://127.0.0.1:${notifier.port}`;
          await assertMethodAnswers(base, [
            ["POST", "/health", 405, "GET, HEAD"],
            ["DELETE", "/api/notifications", 405, "GET, HEAD"],
            ["PUT", "/api/notifications/preview", 405, "GET, HEAD"],
            ["GET", "/api/test-notification", 405, "POST"],
            ["HEAD", "/api/notifications", 200, null],
            ["POST", "/nope", 404, null],
          ]);
        } finally {
          await notifier.close();
        }
      })
    ),
});
