import assert from "node:assert/strict";
import postgres from "postgres";
import { loadMigrations, migrate, migrateAtStart } from "../migrate.ts";
import { createLogger } from "../log.ts";
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
    const lines: { msg: string; version?: number }[] = [];
    const log = createLogger({
      service: "t",
      level: "info",
      write: (l) => lines.push(JSON.parse(l)),
    });
    const bad = [
      { version: 1, name: "ok", sql: "CREATE TABLE t1 (x int)" },
      { version: 2, name: "bad", sql: "CREATE TABLE t2 (x nonexistent_type)" },
    ];
    await assert.rejects(migrate(sql, { log, migrations: bad }));
    const [r] = await sql`SELECT to_regclass('t1') AS t, to_regclass('schema_migrations') AS m`;
    assert.equal(r?.t, null);
    assert.equal(r?.m, null);
    // Before: "migration applied" was logged for version 1, which the rollback undid.
    assert.deepEqual(lines.filter((l) => l.msg === "migration applied"), []);
    // Logged once committed.
    assert.deepEqual(await migrate(sql, { log, migrations: bad.slice(0, 1) }), [1]);
    assert.deepEqual(
      lines.filter((l) => l.msg === "migration applied").map((l) => l.version),
      [1],
    );
  });
});

Deno.test("migrateAtStart() stops at once on a refused DATABASE_URL and waits for an unreachable one", async () => {
  await withPg(async ({ url }) => {
    const lines: string[] = [];
    const log = createLogger({ service: "t", level: "warn", write: (l) => lines.push(l) });
    const at = (change: (u: URL) => void) => {
      const u = new URL(url);
      change(u);
      return postgres(u.href, { max: 1, onnotice: () => {}, connect_timeout: 5 });
    };
    const cases: [string, (u: URL) => void, RegExp][] = [
      [
        "unknown role",
        (u) => u.username = "vigil_no_such_role",
        /^Error: PostgreSQL refused DATABASE_URL: role "vigil_no_such_role" does not exist: fix the user or password/,
      ],
      [
        "no such database",
        (u) => u.pathname = "/vigil_no_such_db",
        /^Error: PostgreSQL refused DATABASE_URL: database "vigil_no_such_db" does not exist: fix the database name/,
      ],
    ];
    for (const [name, change, message] of cases) {
      const sql = at(change);
      try {
        const started = performance.now();
        await assert.rejects(migrateAtStart(sql, { log }), message, name);
        assert.ok(performance.now() - started < 5000, `${name}: not retried`);
      } finally {
        await sql.end({ timeout: 1 });
      }
    }
    assert.equal(lines.length, 0, `no retry line for a refused URL: ${lines.join("\n")}`);

    // Nothing listening: retried (one warning per attempt) until the signal aborts.
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (closed.addr as Deno.NetAddr).port;
    closed.close();
    const sql = at((u) => u.port = String(port));
    try {
      const stop = new AbortController();
      setTimeout(() => stop.abort(new Error("stopped")), 1500);
      await assert.rejects(migrateAtStart(sql, { log, signal: stop.signal }), /^Error: stopped$/);
      const retries = lines.filter((l) => l.includes("cannot apply migrations, retrying"));
      assert.ok(retries.length >= 2, lines.join("\n"));
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});
