/**
 * Upgrading from the previous release: an email digest still pending (retrying) in a database of
 * schema 076, before `notifications.recipients_done` (077), is delivered by this code once to
 * every recipient, and its answers recorded.
 *
 * @module
 */
import assert from "node:assert/strict";
import { withRedis } from "@vigil/tools/testing/redis";
import { withPg } from "@vigil/tools/testing/pg";
import { loadMigrations, migrate } from "@vigil/shared/migrate";
import { silentLogger } from "@vigil/tools/testing/log";
import { startNotifier } from "../app.ts";
import { emptyState } from "../batcher.ts";
import { loadConfig } from "../config.ts";
import type { Digest } from "../digest.ts";
import { createStore } from "../store.ts";
import { makeAlert, startSmtp, testEnv, waitFor } from "./_helpers.ts";

/** The last migration of the previous release. */
const PREVIOUS_SCHEMA = 76;

Deno.test({
  name: "startNotifier() delivers an email digest left pending by the previous release's schema",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withPg(async ({ sql, url }) => {
      const all = await loadMigrations();
      await migrate(sql, { migrations: all.filter((m) => m.version <= PREVIOUS_SCHEMA) });
      // The previous release planned it and failed twice (the server answered 451 to all).
      const d: Digest = {
        id: "g-upgrade-0",
        kind: "digest",
        route: "default",
        groupKey: "default|",
        groupLabels: {},
        createdAt: Date.now() - 60_000,
        channels: ["email"],
        alerts: [{ ...makeAlert({}), isNew: true, flapping: false, resolvedAfterMs: null }],
        flapping: [],
        streamIds: [],
      };
      const result = { state: emptyState(), settled: [], changed: [], placed: {} };
      await createStore(sql).commit({ items: [], result: { ...result, digests: [d] } });
      await sql`UPDATE notifications SET attempts = 2, error = 'SMTP: 451 Try later',
        last_attempt_at = now(), next_attempt_at = now() WHERE digest_id = ${d.id}`;

      await withRedis(async ({ prefix }) => {
        const smtp = await startSmtp(0);
        const config = loadConfig(testEnv({
          prefix,
          databaseUrl: url,
          extra: {
            SMTP_HOST: "127.0.0.1",
            SMTP_PORT: String(smtp.port),
            EMAIL_TO: "ops@example.com,oncall@example.com",
          },
        }));
        const notifier = await startNotifier(config, { log: silentLogger() });
        try {
          await notifier.ready;
          const row = await waitFor(async () => {
            const [r] = await sql<
              { status: string; attempts: number; recipients_done: Record<string, string> }[]
            >`SELECT status, attempts, recipients_done FROM notifications
              WHERE digest_id = ${d.id}`;
            return r?.status === "sent" ? r : undefined;
          }, "the pending digest sent");
          assert.deepEqual(row, {
            status: "sent",
            attempts: 3,
            recipients_done: { "ops@example.com": "accepted", "oncall@example.com": "accepted" },
          });
          assert.deepEqual(smtp.envelopes, [["ops@example.com", "oncall@example.com"]]);
          const [m] = await sql<{ version: number }[]>`SELECT max(version) AS version
            FROM schema_migrations`;
          assert.equal(m?.version, all.at(-1)?.version);
        } finally {
          await notifier.close();
          await smtp.stop();
        }
      });
    }),
});
