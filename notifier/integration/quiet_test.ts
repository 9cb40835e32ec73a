/**
 * What the notifier keeps quiet, against the real PostgreSQL and Redis:
 * a route without channel records only (17.16), a firing CRITICAL inhibits
 * the WARNINGs of its entity (18.4), and an acknowledged alert gets no
 * "still firing" repeats (18.5).
 */
import assert from "node:assert/strict";
import { withRedis } from "@vigil/tools/testing/redis";
import { withPg } from "@vigil/tools/testing/pg";
import { createLogger, type Logger } from "@vigil/shared/log";
import { silentLogger } from "@vigil/tools/testing/log";
import { migrate } from "@vigil/shared/migrate";
import type { Alert } from "@vigil/shared/schemas/alert";
import { startNotifier } from "../app.ts";
import { createStore } from "../store.ts";
import { loadConfig } from "../config.ts";
import { makeAlert, publish, startFakeHook, testEnv, waitFor } from "./_helpers.ts";

type Sent = { kind: string; alerts: { id: string; status: string }[] };

function setup(extra: Record<string, string>, routes?: unknown, log: Logger = silentLogger()) {
  return async (
    fn: (ctx: {
      sql: import("postgres").Sql;
      publish(alerts: Alert[]): Promise<unknown>;
      sent(): Sent[];
    }) => Promise<void>,
  ) => {
    await withPg(async ({ sql, url }) => {
      await withRedis(async ({ redis, keys, prefix }) => {
        await migrate(sql);
        const hook = startFakeHook();
        const dir = await Deno.makeTempDir({ prefix: "vigil-quiet-" });
        const routesFile = `${dir}/routes.json`;
        if (routes) await Deno.writeTextFile(routesFile, JSON.stringify(routes));
        const config = loadConfig(testEnv({
          prefix,
          databaseUrl: url,
          extra: {
            WEBHOOK_URL: hook.url,
            OUTBOX_DIR: `${dir}/outbox`,
            GROUP_BY: "",
            ...(routes ? { NOTIFIER_ROUTES_FILE: routesFile } : {}),
            ...extra,
          },
        }));
        const notifier = await startNotifier(config, { log });
        try {
          await notifier.ready;
          await fn({
            sql,
            publish: (alerts) => publish(redis, keys, alerts),
            sent: () => hook.accepted().map((r) => r.body as Sent),
          });
        } finally {
          await notifier.close();
          await hook.close();
          await Deno.remove(dir, { recursive: true });
        }
      });
    });
  };
}

const dispositions = (sql: import("postgres").Sql) =>
  sql<{ alert_id: string; disposition: string; inhibited_by: string | null }[]>`
    SELECT alert_id, disposition, inhibited_by FROM notifier_alerts ORDER BY alert_id`;

Deno.test({
  name: "a route without channel records its alerts and notifies nothing",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    setup({}, {
      routes: [{ name: "log-only", match: { severity: "WARNING" }, channels: [] }],
    })(async ({ sql, publish, sent }) => {
      const warn = makeAlert({ id: "a-warn", severity: "WARNING" });
      const crit = makeAlert({ id: "b-crit", severity: "CRITICAL" });
      await publish([warn, crit]);
      await waitFor(() => sent().length >= 1, "the CRITICAL's digest");
      await new Promise((r) => setTimeout(r, 1500));
      assert.deepEqual(sent().flatMap((d) => d.alerts.map((a) => a.id)), [crit.id]);
      assert.deepEqual((await dispositions(sql)).map((r) => [r.alert_id, r.disposition]), [
        ["a-warn", "recorded"],
        ["b-crit", "grouped"],
      ]);
      const [n] = await sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM notifications WHERE ${warn.id} = ANY(alert_ids)`;
      assert.equal(n!.n, 0, "no notification carries it");
    }),
});

Deno.test({
  name: "the log line of an alert recorded only says whether it fired or resolved",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    // A firing and its resolution taken in together (a short episode) were two identical lines
    // `alert recorded, not notified` with the same alert_id: read as one alert logged twice.
    const lines: Record<string, unknown>[] = [];
    const log = createLogger({
      service: "notifier",
      level: "info",
      write: (line) => lines.push(JSON.parse(line)),
    });
    const routes = { routes: [{ name: "log-only", match: { severity: "WARNING" }, channels: [] }] };
    await setup({}, routes, log)(async ({ publish }) => {
      const fired = makeAlert({ id: "a-short", severity: "WARNING" });
      const resolved = { ...fired, status: "resolved" as const, resolved_at: fired.event_time };
      await publish([fired, resolved]);
      const recorded = () =>
        lines.filter((l) => l.msg === "alert recorded, not notified (route without channel)");
      await waitFor(() => recorded().length >= 2, "both entries recorded");
      assert.deepEqual(
        recorded().map((l) => [l.alert_id, l.status, l.route]),
        [["a-short", "firing", "log-only"], ["a-short", "resolved", "log-only"]],
      );
    });
  },
});

Deno.test({
  name: "a firing CRITICAL inhibits the WARNING of its entity, recorded as inhibited",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    setup({})(async ({ sql, publish, sent }) => {
      const crit = makeAlert({ id: "a-crit", severity: "CRITICAL", entity: "api" });
      const warn = makeAlert({ id: "b-warn", severity: "WARNING", entity: "api" });
      const other = makeAlert({ id: "c-other", severity: "WARNING", entity: "db" });
      await publish([crit, warn, other]);
      await waitFor(() => sent().length >= 1, "the digest");
      await waitFor(
        async () => (await dispositions(sql)).some((r) => r.disposition === "inhibited"),
        "the inhibited WARNING recorded",
      );
      assert.deepEqual(sent()[0]!.alerts.map((a) => a.id).sort(), [crit.id, other.id]);
      assert.deepEqual(
        (await dispositions(sql)).map((r) => [r.alert_id, r.disposition, r.inhibited_by]),
        [
          ["a-crit", "grouped", null],
          ["b-warn", "inhibited", "a-crit"],
          ["c-other", "grouped", null],
        ],
      );
      // The CRITICAL resolves: the WARNING is announced.
      await publish([{ ...crit, status: "resolved", resolved_at: new Date().toISOString() }]);
      await waitFor(() => sent().length >= 2, "the next digest");
      assert.deepEqual(
        sent()[1]!.alerts.map((a) => [a.id, a.status]).sort(),
        [["a-crit", "resolved"], ["b-warn", "firing"], ["c-other", "firing"]],
      );
    }),
});

Deno.test({
  name: "an acknowledged alert triggers no still-firing repeats; the others still repeat",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    setup({ REPEAT_INTERVAL: "2s", GROUP_WAIT: "500ms" })(async ({ sql, publish, sent }) => {
      const acked = makeAlert({ id: "a-acked" });
      const loud = makeAlert({ id: "b-loud" });
      // The detector's rows; the web acknowledges by setting acknowledged_at.
      for (const a of [acked, loud]) {
        await sql`INSERT INTO anomaly_events (id, event_time, type, rule, severity, entity, title, message)
          VALUES (${a.id}, now(), ${a.type}, ${a.rule}, ${a.severity}, ${a.entity}, ${a.title}, ${a.message})`;
      }
      await publish([acked, loud]);
      await waitFor(() => sent().length >= 1, "the first digest");
      await sql`UPDATE anomaly_events SET acknowledged_at = now(), acknowledged_by = 'ann'
        WHERE id = ${acked.id}`;
      await waitFor(
        () => sent().filter((d) => d.kind === "repeat").length >= 2,
        "two repeats",
        15_000,
      );
      for (const d of sent().filter((d) => d.kind === "repeat")) {
        assert.deepEqual(d.alerts.map((a) => a.id), [loud.id], "only the unacknowledged one");
      }
    }),
});

Deno.test({
  name: "an alert acknowledged before its digest is not counted as pending delivery",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    setup({ GROUP_WAIT: "300ms" })(async ({ sql, publish, sent }) => {
      const acked = makeAlert({ id: "a-acked" });
      // Acknowledged in the web (live view) before the group's first digest.
      await sql`INSERT INTO anomaly_events (id, event_time, type, rule, severity, entity, title,
          message, acknowledged_at, acknowledged_by)
        VALUES (${acked.id}, now(), ${acked.type}, ${acked.rule}, ${acked.severity},
          ${acked.entity}, ${acked.title}, ${acked.message}, now(), 'ann')`;
      await publish([acked]);
      await waitFor(async () => {
        const [g] = await sql<{ dirty: boolean }[]>`
          SELECT (state->>'dirty')::boolean AS dirty FROM notifier_groups`;
        return g?.dirty === false;
      }, "the group's turn");
      assert.deepEqual(sent(), [], "nothing sent: it is quiet");
      const store = createStore(sql);
      assert.equal(await store.undelivered(), 0, "it will never be sent: not pending");
    }),
});
