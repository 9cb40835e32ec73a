/** `GET /api/alerts/status` over many open alerts, against the real PostgreSQL and Redis. */
import assert from "node:assert/strict";
import { migrate } from "@vigil/shared/migrate";
import { silentLogger } from "@vigil/tools/testing/log";
import { type Sql, withPg } from "@vigil/tools/testing/pg";
import { withRedis } from "@vigil/tools/testing/redis";
import { createStatusApp, STATUS_PATH } from "../io/status_api.ts";
import { createStore } from "../io/store.ts";

const T = Date.UTC(2026, 11, 7, 12, 0);

/** An open status_zscore alert: [id, status, severity, seconds before T]. */
type Open = [string, string, string, number];

async function insertOpen(sql: Sql, rows: Open[]): Promise<void> {
  const values = rows.map(([id, entity, severity, ageS]) => ({
    id,
    detected_at: new Date(T - ageS * 1000),
    event_time: new Date(T - ageS * 1000),
    type: "transactions",
    rule: "status_zscore",
    severity,
    entity,
    title: `status ${entity}`,
    message: `status ${entity}`,
    score: 5,
    evidence: sql.json([]),
    details: sql.json({}),
  }));
  await sql`INSERT INTO anomaly_events ${sql(values)}`;
}

type Statuses = Record<string, { severity: string | null; firing: { id: string }[] }>;

/** `n` open WARNING alerts of status `failed` (newest first) and `extra`, then the endpoint's answer. */
function statusesWith(n: number, extra: Open): Promise<Statuses> {
  return withPg(({ sql }) =>
    withRedis(async ({ redis, keys }) => {
      await migrate(sql);
      const failed = Array.from({ length: n }, (_, i): Open => [`f${i}`, "failed", "WARNING", i]);
      await insertOpen(sql, [...failed, extra]);
      const app = createStatusApp({
        store: createStore({ sql }),
        redis,
        keys,
        log: silentLogger(),
      });
      const res = await app.request(STATUS_PATH);
      assert.equal(res.status, 200);
      return (await res.json()).statuses;
    })
  );
}

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test("status: one status's many open alerts do not hide another status's", opts, async () => {
  // Before: the 600 newest open rows of every status, split by status afterwards.
  const s = await statusesWith(700, ["d1", "denied", "CRITICAL", 3600]);
  assert.equal(s.failed?.firing.length, 100);
  assert.equal(s.denied?.severity, "CRITICAL");
  assert.deepEqual(s.denied?.firing.map((f) => f.id), ["d1"]);
});

Deno.test("status: severity is the highest firing, also past the 100 listed", opts, async () => {
  const s = await statusesWith(150, ["c1", "failed", "CRITICAL", 3600]);
  assert.equal(s.failed?.firing.length, 100);
  assert.equal(s.failed?.severity, "CRITICAL");
});
