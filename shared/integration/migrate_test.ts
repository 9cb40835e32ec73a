import assert from "node:assert/strict";
import postgres from "postgres";
import { loadMigrations, migrate } from "../migrate.ts";
import { withPg } from "@vigil/tools/testing/pg";

Deno.test("migrate() applies every migration once, even when started concurrently", async () => {
  await withPg(async ({ sql, url }) => {
    const all = await loadMigrations();
    assert.ok(all.length >= 2);
    const other = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const [a, b] = await Promise.all([migrate(sql), migrate(other)]);
      assert.deepEqual([...a, ...b].sort((x, y) => x - y), all.map((m) => m.version));
      assert.deepEqual(await migrate(sql), []);
      const rows = await sql`SELECT version FROM schema_migrations ORDER BY version`;
      assert.deepEqual(rows.map((r) => r.version), all.map((m) => m.version));
      const [t] = await sql`SELECT to_regclass('anomaly_events') AS t`;
      assert.equal(t?.t, "anomaly_events");
    } finally {
      await other.end({ timeout: 5 });
    }
  });
});

Deno.test("migrate() rolls back a failing migration and records nothing", async () => {
  await withPg(async ({ sql }) => {
    const bad = [
      { version: 1, name: "ok", sql: "CREATE TABLE t1 (x int)" },
      { version: 2, name: "bad", sql: "CREATE TABLE t2 (x nonexistent_type)" },
    ];
    await assert.rejects(migrate(sql, { migrations: bad }));
    const [r] = await sql`SELECT to_regclass('t1') AS t, to_regclass('schema_migrations') AS m`;
    assert.equal(r?.t, null);
    assert.equal(r?.m, null);
  });
});
