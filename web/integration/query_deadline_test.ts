/**
 * A read that outlives the web's request deadline is cancelled in
 * PostgreSQL, not left running after its 503: cheap requests for slow
 * queries (`/api/stats` over months, `acknowledged=true` over a large table)
 * otherwise piled up queries that held the pool, and PostgreSQL, long after
 * their clients were answered (20 such requests kept 13 queries running 24 s
 * later, and `/health` failing).
 */
import assert from "node:assert/strict";
import { silentLogger } from "@vigil/tools/testing/log";
import { withPg } from "@vigil/tools/testing/pg";
import { withRedis } from "@vigil/tools/testing/redis";
import { parseWebConfig } from "../config.ts";
import { startWebServer } from "../server.ts";
import { WEB_REQUEST_DEADLINE_MS } from "../app.ts";
import { waitUntil } from "./_sse.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test("a query past the request deadline is cancelled, not left running", opts, async () => {
  await withPg(({ sql, url }) =>
    withRedis(async ({ prefix }) => {
      const config = parseWebConfig({ DATABASE_URL: url, VIGIL_PREFIX: prefix, WEB_PORT: "0" });
      const server = await startWebServer(config, { log: silentLogger() });
      let release = () => {};
      const released = new Promise<void>((r) => (release = r));
      let locked = () => {};
      const isLocked = new Promise<void>((r) => (locked = r));
      // Holds the table so the web's read waits for the lock: a query slower than the deadline.
      const holder = sql.begin(async (tx) => {
        await tx`LOCK TABLE anomaly_events IN ACCESS EXCLUSIVE MODE`;
        locked();
        await released;
      });
      try {
        await isLocked;
        const res = await fetch(`http://127.0.0.1:${server.port}/api/anomalies?limit=1`);
        assert.equal(res.status, 503);
        await res.body?.cancel();
        // The lock is still held: the web's query is gone only if it was cancelled.
        const waiting = async () =>
          (await sql`SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE application_name = 'vigil-web' AND datname = current_database()
              AND state = 'active' AND query LIKE '%anomaly_events%'`)[0]!.n as number;
        await waitUntil(
          async () => (await waiting()) === 0,
          "the web's query to end",
          WEB_REQUEST_DEADLINE_MS / 2,
        );
      } finally {
        release();
        await holder;
        await server.close();
      }
    })
  );
});
